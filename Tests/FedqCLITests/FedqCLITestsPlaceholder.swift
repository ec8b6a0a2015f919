// Placeholder: replaced by CLI tests.
