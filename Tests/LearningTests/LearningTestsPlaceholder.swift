// Placeholder: replaced by the Learning tests.
