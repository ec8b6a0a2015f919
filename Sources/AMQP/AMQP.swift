// Placeholder: replaced by the AMQP implementation.
