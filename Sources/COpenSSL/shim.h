#ifndef FEDQ_COPENSSL_SHIM_H
#define FEDQ_COPENSSL_SHIM_H
// The OpenSSL librabbitmq's TLS sockets are built on (it links libssl already). The AMQP
// module calls it only to explain a failed TLS handshake (TLSDiagnosis) and to give
// amqps:// without cacertfile the system's trusted CAs.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#endif
