// Placeholder: replaced by the Pipeline implementation.
