// Placeholder: replaced by the Learning implementation.
