// Placeholder: replaced by the Aggregation tests.
