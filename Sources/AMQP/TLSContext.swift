import COpenSSL

/// Settings of librabbitmq's OpenSSL context that librabbitmq itself does not offer, and
/// what the connection reads from its certificate files. Called on the connection's
/// thread while the socket is set up, through `amqp_ssl_socket_get_context`.
enum TLSContext {
    /// Lets librabbitmq's TLS socket trust the system's CA store, for `amqps://` URLs
    /// without `cacertfile` (a broker with a publicly issued certificate). librabbitmq
    /// loads only the CA file it is given, so without this every such connection fails
    /// verification. - Returns: false when the store could not be loaded.
    static func trustSystemCAs(_ context: OpaquePointer) -> Bool {
        SSL_CTX_set_default_verify_paths(context) == 1
    }

    /// Makes OpenSSL fail on a passphrase-protected key instead of asking for the passphrase
    /// on the terminal: its default callback would block the connection's thread on a
    /// prompt nobody answers (librabbitmq 0.11 has no way to pass a passphrase from a URL).
    static func refusePassphrasePrompts(_ context: OpaquePointer) {
        SSL_CTX_set_default_passwd_cb(context) { _, _, _, _ in 0 }
    }

    /// Whether the PEM key at `path` is encrypted (a passphrase-protected key).
    static func isEncryptedKey(_ path: String) -> Bool {
        guard let bio = BIO_new_file(path, "r") else {
            ERR_clear_error()
            return false
        }
        defer { BIO_free(bio) }
        var line = [CChar](repeating: 0, count: 128)
        // An encrypted PKCS#8 block (its header names ENCRYPTED) or "Proc-Type: 4,ENCRYPTED" (legacy PEM).
        for _ in 0..<3 where BIO_gets(bio, &line, Int32(line.count)) > 0 {
            if TLSDiagnosis.string(line).contains("ENCRYPTED") { return true }
        }
        return false
    }

    /// The common name of the certificate in PEM file `path`, or nil.
    static func commonName(certificateFile path: String) -> String? {
        guard let bio = BIO_new_file(path, "r") else {
            ERR_clear_error()
            return nil
        }
        defer { BIO_free(bio) }
        guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
            ERR_clear_error()
            return nil
        }
        defer { X509_free(certificate) }
        var buffer = [CChar](repeating: 0, count: 256)
        let length = X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, &buffer, Int32(buffer.count))
        return length > 0 ? TLSDiagnosis.string(buffer) : nil
    }
}
