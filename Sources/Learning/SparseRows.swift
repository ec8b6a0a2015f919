/// The non-zero entries of a batch of input rows, by row (CSR) and by
/// column (CSC). Raw MNIST pixels are about 80% zeros, so a first dense layer
/// that only touches the weight rows of non-zero pixels does a fifth of the
/// work of a dense GEMM, forward and in the weight update alike.
final class SparseRows {
    let rowStarts = ScratchBuffer<Int32>()
    let columns = ScratchBuffer<Int32>()
    let values = ScratchBuffer<Float>()
    let columnStarts = ScratchBuffer<Int32>()
    let columnRows = ScratchBuffer<Int32>()
    let columnValues = ScratchBuffer<Float>()
    private(set) var nonzeros = 0

    /// Collects the non-zeros of `batch` rows of `width` values; returns
    /// their fraction of all entries.
    func collect(_ input: UnsafePointer<Float>, batch: Int, width: Int) -> Double {
        rowStarts.reserve(batch + 1)
        columns.reserve(batch * width)
        values.reserve(batch * width)
        let starts = rowStarts.pointer
        let indices = columns.pointer
        let entries = values.pointer
        var n = 0
        for row in 0..<batch {
            starts[row] = Int32(n)
            let x = input + row * width
            var column = 0
            // Images are mostly runs of zeros: skip them eight at a time.
            while column + 8 <= width {
                let lanes = UnsafeRawPointer(x + column).loadUnaligned(as: SIMD8<Float>.self)
                if lanes != SIMD8(repeating: 0) {
                    for lane in 0..<8 where lanes[lane] != 0 {
                        indices[n] = Int32(column + lane)
                        entries[n] = lanes[lane]
                        n += 1
                    }
                }
                column += 8
            }
            while column < width {
                if x[column] != 0 {
                    indices[n] = Int32(column)
                    entries[n] = x[column]
                    n += 1
                }
                column += 1
            }
        }
        rowStarts.pointer[batch] = Int32(n)
        nonzeros = n
        return Double(n) / Double(max(batch * width, 1))
    }

    /// Builds the by-column view of the last `collect` (a counting sort).
    func transpose(batch: Int, width: Int) {
        columnStarts.reserve(width + 1)
        columnRows.reserve(max(nonzeros, 1))
        columnValues.reserve(max(nonzeros, 1))
        let starts = columnStarts.pointer
        starts.initialize(repeating: 0, count: width + 1)
        for k in 0..<nonzeros { starts[Int(columns.pointer[k]) + 1] += 1 }
        for c in 0..<width { starts[c + 1] += starts[c] }
        for row in 0..<batch {
            for k in Int(rowStarts.pointer[row])..<Int(rowStarts.pointer[row + 1]) {
                let c = Int(columns.pointer[k])
                let slot = Int(starts[c])
                columnRows.pointer[slot] = Int32(row)
                columnValues.pointer[slot] = values.pointer[k]
                starts[c] += 1
            }
        }
        // The fill advanced every start to the next column's; shift back.
        for c in stride(from: width, to: 0, by: -1) { starts[c] = starts[c - 1] }
        starts[0] = 0
    }
}

/// `destination[0..<width] += sum_k scale * scalars[k] * source(indices[k])[0..<width]`,
/// where source rows are `stride` apart. Keeps 64 outputs in eight 8-lane
/// accumulators while it streams the source rows, so each destination
/// value is loaded and stored once per call instead of once per row.
@inline(__always)
func accumulateRows(
    into destination: UnsafeMutablePointer<Float>, width: Int, sources: UnsafePointer<Float>, stride: Int,
    indices: UnsafePointer<Int32>, scalars: UnsafePointer<Float>, count: Int, scale: Float
) {
    typealias Lane = SIMD8<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> Lane { UnsafeRawPointer(p).loadUnaligned(as: Lane.self) }
    @inline(__always) func store(_ v: Lane, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lane.self) }
    var j = 0
    while j + 64 <= width {
        let d = destination + j
        var a0 = load(d), a1 = load(d + 8), a2 = load(d + 16), a3 = load(d + 24)
        var a4 = load(d + 32), a5 = load(d + 40), a6 = load(d + 48), a7 = load(d + 56)
        for k in 0..<count {
            let s = Lane(repeating: scale * scalars[k])
            let r = sources + Int(indices[k]) * stride + j
            a0 = a0.addingProduct(s, load(r))
            a1 = a1.addingProduct(s, load(r + 8))
            a2 = a2.addingProduct(s, load(r + 16))
            a3 = a3.addingProduct(s, load(r + 24))
            a4 = a4.addingProduct(s, load(r + 32))
            a5 = a5.addingProduct(s, load(r + 40))
            a6 = a6.addingProduct(s, load(r + 48))
            a7 = a7.addingProduct(s, load(r + 56))
        }
        store(a0, d); store(a1, d + 8); store(a2, d + 16); store(a3, d + 24)
        store(a4, d + 32); store(a5, d + 40); store(a6, d + 48); store(a7, d + 56)
        j += 64
    }
    while j + 8 <= width {
        var a = load(destination + j)
        for k in 0..<count {
            a = a.addingProduct(Lane(repeating: scale * scalars[k]), load(sources + Int(indices[k]) * stride + j))
        }
        store(a, destination + j)
        j += 8
    }
    while j < width {
        var a = destination[j]
        for k in 0..<count { a += scale * scalars[k] * sources[Int(indices[k]) * stride + j] }
        destination[j] = a
        j += 1
    }
}
