// Placeholder: replaced by the Wire tests.
