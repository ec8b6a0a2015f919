// Placeholder: replaced by the Pipeline tests.
