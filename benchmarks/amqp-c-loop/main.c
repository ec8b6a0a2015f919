/*
 * The baseline for `fedq bench amqp`: a plain C loop over librabbitmq doing
 * exactly what the Swift wrapper's benchmark does, on one connection:
 * channel 1 publishes persistent messages in confirm mode with at most
 * WINDOW unconfirmed, channel 2 consumes the same durable queue with a
 * prefetch and acks each delivery. Prints one line:
 *   messages=N bytes=B seconds=S
 *
 * usage: amqp-c-loop HOST PORT USER PASSWORD VHOST QUEUE SIZE COUNT WINDOW PREFETCH
 * build: cc -O2 -o amqp-c-loop main.c -lrabbitmq
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die_on_reply(amqp_rpc_reply_t reply, const char *what) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        fprintf(stderr, "%s: %s\n", what, amqp_error_string2(reply.library_error));
    else
        fprintf(stderr, "%s: broker exception (method 0x%08x)\n", what, reply.reply.id);
    exit(1);
}

static void die_on_status(int status, const char *what) {
    if (status >= 0) return;
    fprintf(stderr, "%s: %s\n", what, amqp_error_string2(status));
    exit(1);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 11) {
        fprintf(stderr, "usage: %s HOST PORT USER PASSWORD VHOST QUEUE SIZE COUNT WINDOW PREFETCH\n", argv[0]);
        return 2;
    }
    const char *host = argv[1], *user = argv[3], *password = argv[4], *vhost = argv[5], *queue = argv[6];
    int port = atoi(argv[2]);
    size_t size = (size_t)atol(argv[7]);
    long count = atol(argv[8]), window = atol(argv[9]);
    int prefetch = atoi(argv[10]);

    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    die_on_status(amqp_socket_open(socket, host, port), "open socket");
    die_on_reply(amqp_login(conn, vhost, 2047, 131072, 10, AMQP_SASL_METHOD_PLAIN, user, password), "login");
    amqp_channel_open(conn, 1);
    die_on_reply(amqp_get_rpc_reply(conn), "open channel 1");
    amqp_channel_open(conn, 2);
    die_on_reply(amqp_get_rpc_reply(conn), "open channel 2");
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, amqp_empty_table);
    die_on_reply(amqp_get_rpc_reply(conn), "declare durable queue");
    amqp_confirm_select(conn, 1);
    die_on_reply(amqp_get_rpc_reply(conn), "confirm.select");
    amqp_basic_qos(conn, 2, 0, (uint16_t)prefetch, 0);
    die_on_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 2, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    die_on_reply(amqp_get_rpc_reply(conn), "basic.consume");

    char *body = malloc(size);
    for (size_t i = 0; i < size; i++) body[i] = (char)(i * 31 + 7);
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = 2;
    props.content_type = amqp_cstring_bytes("application/octet-stream");
    amqp_bytes_t payload = {size, body};

    long published = 0, confirmed = 0, consumed = 0;
    double start = now_seconds();
    while (confirmed < count || consumed < count) {
        while (published < count && published - confirmed < window) {
            die_on_status(amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &props, payload),
                          "publish");
            published++;
        }
        amqp_frame_t frame;
        die_on_status(amqp_simple_wait_frame(conn, &frame), "wait frame");
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            confirmed = ack->multiple ? (long)ack->delivery_tag : confirmed + 1;
            break;
        }
        case AMQP_BASIC_NACK_METHOD:
            fprintf(stderr, "nacked\n");
            return 1;
        case AMQP_BASIC_DELIVER_METHOD: {
            amqp_basic_deliver_t *deliver = frame.payload.method.decoded;
            uint64_t tag = deliver->delivery_tag;
            amqp_message_t message;
            die_on_reply(amqp_read_message(conn, frame.channel, &message, 0), "read message");
            if (message.body.len != size) {
                fprintf(stderr, "short body %zu\n", message.body.len);
                return 1;
            }
            amqp_destroy_message(&message);
            die_on_status(amqp_basic_ack(conn, 2, tag, 0), "ack");
            consumed++;
            break;
        }
        default:
            fprintf(stderr, "unexpected method 0x%08x\n", frame.payload.method.id);
            return 1;
        }
        amqp_maybe_release_buffers(conn);
    }
    double seconds = now_seconds() - start;
    printf("messages=%ld bytes=%zu seconds=%.6f\n", count, size, seconds);

    amqp_channel_close(conn, 2, AMQP_REPLY_SUCCESS);
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    free(body);
    return 0;
}
