#ifndef FEDQ_CRABBITMQ_SHIM_H
#define FEDQ_CRABBITMQ_SHIM_H
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif
