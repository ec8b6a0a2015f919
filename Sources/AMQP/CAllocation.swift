import CRabbitMQ
import Foundation

/// Owns the C memory behind `amqp_bytes_t` / `amqp_table_t` arguments that
/// Swift builds for one librabbitmq call, and frees all of it in `deinit`.
/// Keep it alive (`withExtendedLifetime`) until the call returns.
final class CAllocation {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { free(block) }
    }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        guard let block = malloc(max(size, 1)) else { fatalError("out of memory allocating \(size) bytes") }
        blocks.append(block)
        return block
    }

    /// A copy of the string's UTF-8 bytes (not NUL-terminated, as AMQP wants).
    func bytes(_ string: String) -> amqp_bytes_t {
        var string = string
        return string.withUTF8 { utf8 in
            let block = allocate(utf8.count)
            if let base = utf8.baseAddress { block.copyMemory(from: base, byteCount: utf8.count) }
            return amqp_bytes_t(len: utf8.count, bytes: block)
        }
    }

    func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        let block = allocate(data.count)
        data.withUnsafeBytes { if let base = $0.baseAddress { block.copyMemory(from: base, byteCount: data.count) } }
        return amqp_bytes_t(len: data.count, bytes: block)
    }

    /// Keys sorted so encoded tables are deterministic.
    func table(_ table: AMQPTable) -> amqp_table_t {
        guard !table.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * table.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: table.count)
        for (index, key) in table.keys.sorted().enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(key), value: field(table[key]!))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        func kind(_ kind: amqp_field_value_kind_t) -> UInt8 { UInt8(truncatingIfNeeded: kind.rawValue) }
        switch value {
        case .bool(let flag):
            field.kind = kind(AMQP_FIELD_KIND_BOOLEAN)
            field.value.boolean = flag ? 1 : 0
        case .int(let number):
            field.kind = kind(AMQP_FIELD_KIND_I64)
            field.value.i64 = number
        case .double(let number):
            field.kind = kind(AMQP_FIELD_KIND_F64)
            field.value.f64 = number
        case .string(let text):
            field.kind = kind(AMQP_FIELD_KIND_UTF8)
            field.value.bytes = bytes(text)
        case .bytes(let data):
            field.kind = kind(AMQP_FIELD_KIND_BYTES)
            field.value.bytes = bytes(data)
        case .timestamp(let date):
            field.kind = kind(AMQP_FIELD_KIND_TIMESTAMP)
            field.value.u64 = UInt64(max(0, date.timeIntervalSince1970.rounded(.down)))
        case .table(let nested):
            field.kind = kind(AMQP_FIELD_KIND_TABLE)
            field.value.table = table(nested)
        case .array(let values):
            field.kind = kind(AMQP_FIELD_KIND_ARRAY)
            let entries = allocate(MemoryLayout<amqp_field_value_t>.stride * max(values.count, 1))
                .bindMemory(to: amqp_field_value_t.self, capacity: max(values.count, 1))
            for (index, element) in values.enumerated() { entries[index] = self.field(element) }
            field.value.array = amqp_array_t(num_entries: Int32(values.count), entries: values.isEmpty ? nil : entries)
        case .void:
            field.kind = kind(AMQP_FIELD_KIND_VOID)
        }
        return field
    }
}

extension AMQPFieldValue {
    /// Copies a decoded C field value (owned by a librabbitmq pool) into Swift.
    init(_ field: amqp_field_value_t) {
        switch amqp_field_value_kind_t(rawValue: UInt32(field.kind)) {
        case AMQP_FIELD_KIND_BOOLEAN: self = .bool(field.value.boolean != 0)
        case AMQP_FIELD_KIND_I8: self = .int(Int64(field.value.i8))
        case AMQP_FIELD_KIND_U8: self = .int(Int64(field.value.u8))
        case AMQP_FIELD_KIND_I16: self = .int(Int64(field.value.i16))
        case AMQP_FIELD_KIND_U16: self = .int(Int64(field.value.u16))
        case AMQP_FIELD_KIND_I32: self = .int(Int64(field.value.i32))
        case AMQP_FIELD_KIND_U32: self = .int(Int64(field.value.u32))
        case AMQP_FIELD_KIND_I64: self = .int(field.value.i64)
        case AMQP_FIELD_KIND_U64: self = .int(Int64(truncatingIfNeeded: field.value.u64))
        case AMQP_FIELD_KIND_F32: self = .double(Double(field.value.f32))
        case AMQP_FIELD_KIND_F64: self = .double(field.value.f64)
        case AMQP_FIELD_KIND_UTF8: self = .string(String(amqpBytes: field.value.bytes))
        case AMQP_FIELD_KIND_BYTES:
            let bytes = field.value.bytes
            self = .bytes(bytes.len == 0 ? [] : Array(UnsafeRawBufferPointer(start: bytes.bytes, count: bytes.len)))
        case AMQP_FIELD_KIND_TIMESTAMP: self = .timestamp(Date(timeIntervalSince1970: Double(field.value.u64)))
        case AMQP_FIELD_KIND_TABLE: self = .table(AMQPTable(field.value.table))
        case AMQP_FIELD_KIND_ARRAY:
            let array = field.value.array
            self = .array((0..<Int(array.num_entries)).map { AMQPFieldValue(array.entries[$0]) })
        case AMQP_FIELD_KIND_DECIMAL:
            let decimal = field.value.decimal
            self = .double(Double(decimal.value) / pow(10, Double(decimal.decimals)))
        default: self = .void
        }
    }
}

extension AMQPTable {
    /// Copies a decoded C table into Swift.
    init(_ table: amqp_table_t) {
        self.init(minimumCapacity: Int(table.num_entries))
        for index in 0..<Int(table.num_entries) {
            let entry = table.entries[index]
            self[String(amqpBytes: entry.key)] = AMQPFieldValue(entry.value)
        }
    }
}
