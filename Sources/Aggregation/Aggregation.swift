// Placeholder: replaced by the Aggregation implementation.
