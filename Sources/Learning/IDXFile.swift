import CompressNIO
import Foundation
import NIOCore

/// An IDX file (LeCun's MNIST format) of unsigned bytes: big-endian header
/// `0, 0, 0x08, rank`, then `rank` 32-bit dimensions, then the data.
struct IDXFile {
    let dimensions: [Int]
    /// The uncompressed file, header included.
    let bytes: [UInt8]
    let headerSize: Int

    /// Reads and gunzips `path` (plain IDX when it does not start with the
    /// gzip magic), and verifies `md5` of the uncompressed file when given.
    /// - Throws: `DatasetError` naming the file and the failing position.
    init(path: String, md5 expected: String? = nil) throws(DatasetError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path, reason: "no such file or not readable")
        }
        let raw = [UInt8](data)
        let bytes = raw.starts(with: [0x1F, 0x8B]) ? try Self.gunzip(raw, path: path) : raw
        guard bytes.count >= 4 else { throw .badIDXHeader(path: path, offset: bytes.count, reason: "file ends inside the magic number") }
        guard bytes[0] == 0, bytes[1] == 0 else { throw .badIDXHeader(path: path, offset: 0, reason: "magic must start with two zero bytes") }
        guard bytes[2] == 0x08 else {
            throw .badIDXHeader(path: path, offset: 2, reason: "element type 0x\(String(bytes[2], radix: 16)) is not unsigned byte (0x08)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw .badIDXHeader(path: path, offset: 3, reason: "rank 0") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw .badIDXHeader(path: path, offset: bytes.count, reason: "file ends inside the \(rank) dimensions")
        }
        let dimensions = (0..<rank).map { i in
            (0..<4).reduce(0) { $0 << 8 | Int(bytes[4 + 4 * i + $1]) }
        }
        let expectedBytes = headerSize + dimensions.reduce(1, *)
        guard bytes.count >= expectedBytes else {
            throw .truncatedIDX(path: path, expectedBytes: expectedBytes, actualBytes: bytes.count)
        }
        guard bytes.count == expectedBytes else {
            throw .badIDXHeader(path: path, offset: expectedBytes, reason: "\(bytes.count - expectedBytes) bytes after the data")
        }
        if let expected {
            let actual = bytes.withUnsafeBytes { MD5.hex($0) }
            guard actual == expected else { throw .checksumMismatch(path: path, expected: expected, actual: actual) }
        }
        self.dimensions = dimensions
        self.bytes = bytes
        self.headerSize = headerSize
    }

    private static func gunzip(_ compressed: [UInt8], path: String) throws(DatasetError) -> [UInt8] {
        var input = ByteBuffer(bytes: compressed)
        do {
            var output = try input.decompress(with: .gzip())
            return output.readBytes(length: output.readableBytes) ?? []
        } catch {
            throw .corruptGzip(path: path, reason: "\(error) after reading \(input.readerIndex) of \(compressed.count) compressed bytes")
        }
    }
}
