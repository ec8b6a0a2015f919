#ifndef FEDQ_CRABBITMQ_SHIM_H
#define FEDQ_CRABBITMQ_SHIM_H
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>

/// amqp_login_with_properties is variadic, which Swift cannot call: this fixes its arguments.
/// SASL PLAIN reads two (user, password); SASL EXTERNAL reads one (the identity) and ignores
/// the password.
static inline amqp_rpc_reply_t fedq_login(amqp_connection_state_t state, const char *vhost, int channel_max,
                                          int frame_max, int heartbeat, const amqp_table_t *properties,
                                          amqp_sasl_method_enum method, const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties, method, user,
                                      password);
}
#endif
