/*
 * The baseline for `fedq bench amqp`: a plain C loop over librabbitmq doing
 * exactly what the Swift wrapper's benchmark does. A forked child consumes the
 * durable queue on its own connection with a prefetch and acks each delivery,
 * while the parent publishes persistent messages in confirm mode with at most
 * WINDOW unconfirmed on another connection. (One connection for both would
 * deadlock a single thread: blocked writing publishes while the broker waits
 * for it to read deliveries.) The time runs from the fork until both are done.
 * QUEUE_TYPE is classic, quorum or stream (RabbitMQ's x-queue-type); a stream is
 * read from its first offset, as a fresh stream's consumer must be to see every
 * message. The password comes from the environment (FEDQ_C_LOOP_PASSWORD), never
 * the command line, where any user's `ps` would show it.
 * Two optional arguments make the consumer ack as a FedQueue aggregator worker must
 * (BENCHMARKS.md, issue 21): ACK_EVERY deliveries at once, with one `multiple` ack
 * (a worker's partial), sent ACK_DELAY_MS after the batch's last delivery (the wait
 * for the partial's confirm). The last batch may be shorter. Defaults 1 and 0: each
 * delivery acked at once.
 * Prints one line:
 *   messages=N bytes=B seconds=S
 *
 * usage: FEDQ_C_LOOP_PASSWORD=... amqp-c-loop HOST PORT USER VHOST QUEUE QUEUE_TYPE SIZE COUNT WINDOW PREFETCH
 *            [ACK_EVERY [ACK_DELAY_MS]]
 * build: cc -O2 -o amqp-c-loop main.c -lrabbitmq
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static amqp_connection_state_t connect_channel(const char *host, int port, const char *user, const char *password,
                                               const char *vhost) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    die_on_status(amqp_socket_open(socket, host, port), "open socket");
    die_on_reply(amqp_login(conn, vhost, 2047, 131072, 10, AMQP_SASL_METHOD_PLAIN, user, password), "login");
    amqp_channel_open(conn, 1);
    die_on_reply(amqp_get_rpc_reply(conn), "open channel");
    return conn;
}

static void close_connection(amqp_connection_state_t conn) {
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

/* A one-entry field table holding a string: x-queue-type, x-stream-offset. */
static amqp_table_t string_table(amqp_table_entry_t *entry, const char *key, const char *value) {
    entry->key = amqp_cstring_bytes(key);
    entry->value.kind = AMQP_FIELD_KIND_UTF8;
    entry->value.value.bytes = amqp_cstring_bytes(value);
    amqp_table_t table = {1, entry};
    return table;
}

/* Batches closed but not yet acked: their last delivery tag and when the ack is due. A
 * batch per ACK_EVERY deliveries, and at most PREFETCH deliveries unacked: PREFETCH + 1
 * slots always suffice. */
struct pending_acks {
    uint64_t *tags;
    double *due;
    long capacity, head, tail;
};

static void consume(amqp_connection_state_t conn, const char *queue, const char *type, size_t size, long count,
                    int prefetch, long ack_every, double ack_delay) {
    amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
    die_on_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_table_entry_t entry;
    amqp_table_t arguments = strcmp(type, "stream") == 0 ? string_table(&entry, "x-stream-offset", "first") : amqp_empty_table;
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, arguments);
    die_on_reply(amqp_get_rpc_reply(conn), "basic.consume");
    struct pending_acks pending = {calloc((size_t)prefetch + 2, sizeof(uint64_t)), calloc((size_t)prefetch + 2, sizeof(double)),
                                   prefetch + 2, 0, 0};
    long in_batch = 0;
    for (long consumed = 0; consumed < count || pending.head != pending.tail;) {
        /* Send the acks that are due; wait for a delivery no longer than the next one's due time. */
        struct timeval wait, *timeout = NULL;
        while (pending.head != pending.tail) {
            double left = pending.due[pending.head] - now_seconds();
            if (left > 0) {
                wait.tv_sec = (time_t)left;
                wait.tv_usec = (suseconds_t)((left - (double)wait.tv_sec) * 1e6);
                timeout = &wait;
                break;
            }
            die_on_status(amqp_basic_ack(conn, 1, pending.tags[pending.head], 1), "ack");
            pending.head = (pending.head + 1) % pending.capacity;
        }
        if (consumed == count) {
            if (timeout) nanosleep(&(struct timespec){wait.tv_sec, (long)wait.tv_usec * 1000}, NULL);
            continue;
        }
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t reply = amqp_consume_message(conn, &envelope, timeout, 0);
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) continue;
        die_on_reply(reply, "consume");
        if (envelope.message.body.len != size) {
            fprintf(stderr, "short body %zu\n", envelope.message.body.len);
            exit(1);
        }
        consumed++;
        if (ack_every == 1 && ack_delay == 0) {
            die_on_status(amqp_basic_ack(conn, 1, envelope.delivery_tag, 0), "ack");
        } else if (++in_batch == ack_every || consumed == count) {
            pending.tags[pending.tail] = envelope.delivery_tag;
            pending.due[pending.tail] = now_seconds() + ack_delay;
            pending.tail = (pending.tail + 1) % pending.capacity;
            in_batch = 0;
        }
        amqp_destroy_envelope(&envelope);
    }
    free(pending.tags);
    free(pending.due);
}

static void publish(amqp_connection_state_t conn, const char *queue, size_t size, long count, long window) {
    amqp_confirm_select(conn, 1);
    die_on_reply(amqp_get_rpc_reply(conn), "confirm.select");
    char *body = malloc(size);
    for (size_t i = 0; i < size; i++) body[i] = (char)(i * 31 + 7);
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = 2;
    props.content_type = amqp_cstring_bytes("application/octet-stream");
    amqp_bytes_t payload = {size, body};
    long published = 0, confirmed = 0, lowest = 1;
    /* Confirms may come out of order, a single ack after a multiple one that covers it:
     * count each tag once (counting +1 per single ack once left this loop waiting forever). */
    char *acked = calloc((size_t)count + 2, 1);
    while (confirmed < count) {
        while (published < count && published - confirmed < window) {
            die_on_status(amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &props, payload),
                          "publish");
            published++;
        }
        amqp_frame_t frame;
        amqp_maybe_release_buffers(conn);
        die_on_status(amqp_simple_wait_frame(conn, &frame), "wait frame");
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            long tag = (long)ack->delivery_tag;
            for (long t = ack->multiple ? lowest : tag; t <= tag && t <= count; t++) {
                if (!acked[t]) { acked[t] = 1; confirmed++; }
            }
            while (lowest <= count && acked[lowest]) lowest++;
        } else {
            fprintf(stderr, "unexpected method 0x%08x (nack?)\n", frame.payload.method.id);
            exit(1);
        }
    }
    free(acked);
    free(body);
}

int main(int argc, char **argv) {
    const char *password = getenv("FEDQ_C_LOOP_PASSWORD");
    if (argc < 11 || argc > 13 || password == NULL) {
        fprintf(stderr,
                "usage: FEDQ_C_LOOP_PASSWORD=... %s HOST PORT USER VHOST QUEUE QUEUE_TYPE SIZE COUNT WINDOW PREFETCH"
                " [ACK_EVERY [ACK_DELAY_MS]]\n",
                argv[0]);
        return 2;
    }
    const char *host = argv[1], *user = argv[3], *vhost = argv[4], *queue = argv[5], *type = argv[6];
    int port = atoi(argv[2]);
    size_t size = (size_t)atol(argv[7]);
    long count = atol(argv[8]), window = atol(argv[9]);
    int prefetch = atoi(argv[10]);
    long ack_every = argc > 11 ? atol(argv[11]) : 1;
    double ack_delay = argc > 12 ? atof(argv[12]) / 1000 : 0;
    if (prefetch < 1 || ack_every < 1 || ack_every > prefetch || ack_delay < 0) {
        fprintf(stderr, "PREFETCH must be positive, ACK_EVERY in 1...PREFETCH and ACK_DELAY_MS not negative\n");
        return 2;
    }
    if (strcmp(type, "classic") != 0 && strcmp(type, "quorum") != 0 && strcmp(type, "stream") != 0) {
        fprintf(stderr, "QUEUE_TYPE must be classic, quorum or stream, got %s\n", type);
        return 2;
    }

    amqp_connection_state_t publisher = connect_channel(host, port, user, password, vhost);
    amqp_table_entry_t entry;
    amqp_queue_declare(publisher, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, string_table(&entry, "x-queue-type", type));
    die_on_reply(amqp_get_rpc_reply(publisher), "declare durable queue");
    amqp_connection_state_t consumer = connect_channel(host, port, user, password, vhost);

    double start = now_seconds();
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        consume(consumer, queue, type, size, count, prefetch, ack_every, ack_delay);
        close_connection(consumer);
        _exit(0);
    }
    publish(publisher, queue, size, count, window);
    int status = 0;
    waitpid(child, &status, 0);
    double seconds = now_seconds() - start;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "consumer failed\n");
        return 1;
    }
    printf("messages=%ld bytes=%zu seconds=%.6f\n", count, size, seconds);
    close_connection(publisher);
    return 0;
}
