// Placeholder: replaced by the AMQP tests.
