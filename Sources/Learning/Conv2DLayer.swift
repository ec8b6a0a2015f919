import CBLAS

/// 2-D convolution, stride 1, 'same' zero padding, with an optional fused
/// ReLU. Weights are `filters x (channels * k * k)` row-major (row f holds
/// filter f's taps in (channel, ky, kx) order), followed by one bias per
/// filter: the layout updates on the wire rely on.
///
/// Speed comes from GEMM shapes: a chunk of n samples is unfolded (im2col)
/// into `columns`, `patchSize x (n * pixels)`, so the forward pass, the input
/// gradient and the weight gradient are each one GEMM per chunk with a wide
/// inner dimension, instead of one small GEMM per sample. The GEMM writes
/// its output channel-major (`filters x batch x pixels`, see `BatchLayout`);
/// bias and ReLU are one pass that also moves the values into the output
/// layout. Chunks keep `columns` within `columnBudget` floats whatever the
/// batch (evaluation runs hundreds of samples at a time).
final class Conv2DLayer: Layer {
    let channels: Int
    let filters: Int
    let kernel: Int
    let height: Int
    let width: Int
    let fusedReLU: Bool
    let parameterOffset: Int
    let inputLayout: BatchLayout
    let outputLayout: BatchLayout
    /// Samples unfolded at once.
    let chunkSamples: Int
    var inputSize: Int { channels * pixels }
    var outputSize: Int { filters * pixels }
    var parameterCount: Int { filters * patchSize + filters }
    private let patchSize: Int
    private let pixels: Int
    private var biasOffset: Int { parameterOffset + filters * patchSize }
    /// The unfolded input of the current chunk.
    private let columns = ScratchBuffer<Float>()
    /// The gradient w.r.t. `columns`, folded back onto the input gradient.
    private let columnGradients = ScratchBuffer<Float>()
    /// Channel-major staging of the output and its gradient when the output
    /// layout is sample-major (a dense layer or the logits follow).
    private let planes = ScratchBuffer<Float>()
    private let biasSums: ScratchBuffer<Float>
    /// One example's weight gradient, for DP-SGD's norms (`accumulateExampleNorms`).
    private let exampleGradient = ScratchBuffer<Float>()
    /// The last forward pass fitted in one chunk, so `columns` still holds
    /// its unfolded input when the backward pass (which always follows the
    /// forward pass of the same batch) needs it again.
    private var columnsHoldBatch = false

    /// About 4 MB of columns: inside L2 + L3 here, and wide enough GEMMs
    /// (6 samples, 1,176 columns for the McMahan CNN's second convolution).
    static let defaultColumnBudget = 1 << 20

    init(
        channels: Int, filters: Int, kernel: Int, height: Int, width: Int, fusedReLU: Bool, parameterOffset: Int,
        inputLayout: BatchLayout = .sampleMajor, outputLayout: BatchLayout = .sampleMajor,
        columnBudget: Int = Conv2DLayer.defaultColumnBudget
    ) {
        self.channels = channels
        self.filters = filters
        self.kernel = kernel
        self.height = height
        self.width = width
        self.fusedReLU = fusedReLU
        self.parameterOffset = parameterOffset
        self.inputLayout = inputLayout
        self.outputLayout = outputLayout
        patchSize = channels * kernel * kernel
        pixels = height * width
        chunkSamples = max(1, columnBudget / (patchSize * pixels))
        biasSums = ScratchBuffer(capacity: filters)
    }

    func initialize(_ parameters: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {
        Initialization.fill(
            parameters + parameterOffset, count: filters * patchSize, fanIn: patchSize, fanOut: filters * kernel * kernel,
            beforeReLU: fusedReLU, generator: &generator)
        (parameters + biasOffset).initialize(repeating: 0, count: filters)
    }

    func reserve(batch: Int) {
        let chunk = min(batch, chunkSamples) * patchSize * pixels
        columns.reserve(chunk)
        columnGradients.reserve(chunk)
        if outputLayout == .sampleMajor { planes.reserve(batch * outputSize) }
    }

    func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, parameters: UnsafePointer<Float>) {
        reserve(batch: batch)
        let z = outputLayout == .channelMajor ? output : planes.pointer
        let columnCount = batch * pixels
        forEachChunk(batch) { start, count in
            unfold(input, batch: batch, samples: start..<(start + count))
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(filters), Int32(count * pixels), Int32(patchSize),
                1, parameters + parameterOffset, Int32(patchSize), columns.pointer, Int32(count * pixels),
                0, z + start * pixels, Int32(columnCount))
        }
        columnsHoldBatch = batch <= chunkSamples
        let bias = parameters + biasOffset
        for f in 0..<filters {
            let b = bias[f]
            for sample in 0..<batch {
                let source = z + (f * batch + sample) * pixels
                let destination =
                    output + outputLayout.planeOffset(channel: f, sample: sample, channels: filters, batch: batch, planeSize: pixels)
                if fusedReLU {
                    for p in 0..<pixels { destination[p] = max(source[p] + b, 0) }
                } else {
                    for p in 0..<pixels { destination[p] = source[p] + b }
                }
            }
        }
    }

    func backward(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>, target: GradientTarget
    ) {
        let dZ = channelMajorOutputGradient(output: output, outputGradient: outputGradient, batch: batch)
        let columnCount = batch * pixels
        // Before `target`, which may be the weights themselves, changes.
        propagate(dZ, into: inputGradient, batch: batch, parameters: parameters)
        // dW = dZ * columns^T, accumulated over the chunks.
        forEachChunk(batch) { start, count in
            if !columnsHoldBatch { unfold(input, batch: batch, samples: start..<(start + count)) }
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(filters), Int32(patchSize), Int32(count * pixels),
                target.alpha, dZ + start * pixels, Int32(columnCount), columns.pointer, Int32(count * pixels),
                start == 0 ? target.beta : 1, target.base + parameterOffset, Int32(patchSize))
        }
        for f in 0..<filters {
            biasSums.pointer[f] = Self.sum(dZ + f * columnCount, count: columnCount)
        }
        target.accumulate(biasSums.pointer, count: filters, at: biasOffset)
    }

    let clipsExamplesInBatch = true

    /// Each example's weight gradient formed whole, dZᵢ·columnsᵢᵀ (one GEMM per example over
    /// its own pixels: as many multiply-adds as its share of `backward`'s weight gradient),
    /// measured and dropped. A convolution's norm does not factor into ‖a‖·‖d‖ as a dense
    /// layer's does, since every weight meets every pixel; the "ghost" form,
    /// Σₚ Σₚ′ (aₚ·aₚ′)(dₚ·dₚ′), costs pixels² per example, more than this GEMM for the
    /// McMahan CNN's 784 and 196 pixels.
    func accumulateExampleNorms(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>,
        squaredNorms: UnsafeMutablePointer<Float>
    ) {
        let dZ = channelMajorOutputGradient(output: output, outputGradient: outputGradient, batch: batch)
        propagate(dZ, into: inputGradient, batch: batch, parameters: parameters)
        let columnCount = batch * pixels
        exampleGradient.reserve(filters * patchSize)
        let gradient = exampleGradient.pointer
        forEachChunk(batch) { start, count in
            if !columnsHoldBatch { unfold(input, batch: batch, samples: start..<(start + count)) }
            for offset in 0..<count {
                let sample = start + offset
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(filters), Int32(patchSize), Int32(pixels),
                    1, dZ + sample * pixels, Int32(columnCount), columns.pointer + offset * pixels, Int32(count * pixels),
                    0, gradient, Int32(patchSize))
                var squared = cblas_sdot(Int32(filters * patchSize), gradient, 1, gradient, 1)
                for f in 0..<filters {
                    let bias = Self.sum(dZ + f * columnCount + sample * pixels, count: pixels)
                    squared += bias * bias
                }
                squaredNorms[sample] += squared
            }
        }
    }

    /// dColumns = Wᵀ·dZ, folded back onto the input gradient when the layer below wants it:
    /// the first half of both backward passes. Inlined, as the dense layer's is.
    @inline(__always)
    private func propagate(
        _ dZ: UnsafePointer<Float>, into inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>
    ) {
        guard let inputGradient else { return }
        let columnCount = batch * pixels
        forEachChunk(batch) { start, count in
            cblas_sgemm(
                CblasRowMajor, CblasTrans, CblasNoTrans, Int32(patchSize), Int32(count * pixels), Int32(filters),
                1, parameters + parameterOffset, Int32(patchSize), dZ + start * pixels, Int32(columnCount),
                0, columnGradients.pointer, Int32(count * pixels))
            fold(into: inputGradient, batch: batch, samples: start..<(start + count))
        }
    }

    /// The sum of `count` floats, in 16 lanes: a plain `sum += x[i]` loop is
    /// one dependent add after another (the compiler may not reorder float
    /// additions), and this sum runs over every output of the batch.
    static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            lanes += UnsafeRawPointer(values + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var total = lanes.sum()
        while i < count {
            total += values[i]
            i += 1
        }
        return total
    }

    /// Calls `body(start, count)` for consecutive chunks of at most `chunkSamples`.
    @inline(__always)
    private func forEachChunk(_ batch: Int, _ body: (Int, Int) -> Void) {
        var start = 0
        while start < batch {
            let count = min(chunkSamples, batch - start)
            body(start, count)
            start += count
        }
    }

    /// The output gradient, channel-major and masked by the fused ReLU:
    /// in place when the output is channel-major, else moved into `planes`.
    private func channelMajorOutputGradient(
        output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>, batch: Int
    ) -> UnsafeMutablePointer<Float> {
        if outputLayout == .channelMajor {
            if fusedReLU {
                for i in 0..<(batch * outputSize) { outputGradient[i] = output[i] > 0 ? outputGradient[i] : 0 }
            }
            return outputGradient
        }
        let dZ = planes.pointer
        for f in 0..<filters {
            for sample in 0..<batch {
                let offset = (sample * filters + f) * pixels
                let source = outputGradient + offset
                let values = output + offset
                let destination = dZ + (f * batch + sample) * pixels
                if fusedReLU {
                    for p in 0..<pixels { destination[p] = values[p] > 0 ? source[p] : 0 }
                } else {
                    destination.update(from: source, count: pixels)
                }
            }
        }
        return dZ
    }

    /// Unfolds `samples` of the batch into `columns`: row (c, ky, kx), then
    /// one `height x width` block per sample holding the input shifted by
    /// (dy, dx) = (ky - pad, kx - pad), zeros where the window leaves the image.
    /// Within a plane the shift is one offset, `dy * width + dx`, so a block is
    /// one contiguous copy, then zeros over the rows and columns that read
    /// past an edge; where the samples' planes of a channel are adjacent
    /// (channel-major, or one channel) the blocks of the chunk are one copy.
    private func unfold(_ image: UnsafePointer<Float>, batch: Int, samples: Range<Int>) {
        var block = columns.pointer
        for c in 0..<channels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let window = Window(kernel: kernel, height: height, width: width, ky: ky, kx: kx)
                    forEachRun(samples) { run in
                        let plane = image + planeOffset(c, run.lowerBound, batch)
                        let copy = window.copy(planes: run.count)
                        (block + copy.lowerBound).update(from: plane + copy.lowerBound + window.offset, count: copy.count)
                        for _ in run {
                            window.zeroPadding(block)
                            block += pixels
                        }
                    }
                }
            }
        }
    }

    /// Writes the input gradient of `samples` from `columnGradients`: the
    /// adjoint of `unfold`. The centre tap (offset 0) covers every pixel, so
    /// it is stored and the others added; their entries for padding are
    /// zeroed first so that each add is one contiguous pass too.
    private func fold(into image: UnsafeMutablePointer<Float>, batch: Int, samples: Range<Int>) {
        let pad = (kernel - 1) / 2
        let tapStride = samples.count * pixels
        for c in 0..<channels {
            let channelBlocks = columnGradients.pointer + c * kernel * kernel * tapStride
            let centre = channelBlocks + (pad * kernel + pad) * tapStride
            forEachRun(samples) { run in
                let plane = image + planeOffset(c, run.lowerBound, batch)
                plane.update(from: centre + (run.lowerBound - samples.lowerBound) * pixels, count: run.count * pixels)
            }
            for ky in 0..<kernel {
                for kx in 0..<kernel where ky != pad || kx != pad {
                    let window = Window(kernel: kernel, height: height, width: width, ky: ky, kx: kx)
                    var block = channelBlocks + (ky * kernel + kx) * tapStride
                    forEachRun(samples) { run in
                        let source = block
                        for _ in run {
                            window.zeroPadding(block)
                            block += pixels
                        }
                        let copy = window.copy(planes: run.count)
                        let destination = image + planeOffset(c, run.lowerBound, batch) + copy.lowerBound + window.offset
                        let from = source + copy.lowerBound
                        for i in 0..<copy.count { destination[i] += from[i] }
                    }
                }
            }
        }
    }

    @inline(__always)
    private func planeOffset(_ channel: Int, _ sample: Int, _ batch: Int) -> Int {
        inputLayout.planeOffset(channel: channel, sample: sample, channels: channels, batch: batch, planeSize: pixels)
    }

    /// Calls `body` with `samples` split into runs whose planes of one channel
    /// are adjacent in the input: all of them when channel-major or
    /// single-channel, else one sample each. (A closure, not an array of
    /// runs: a training step allocates nothing.)
    @inline(__always)
    private func forEachRun(_ samples: Range<Int>, _ body: (Range<Int>) -> Void) {
        if inputLayout == .channelMajor || channels == 1 {
            body(samples)
        } else {
            for sample in samples { body(sample..<(sample + 1)) }
        }
    }
}

/// Where one kernel tap (ky, kx) reads a `height x width` plane: output
/// pixel j reads input pixel j + offset for j in `copy`; the rows before and
/// after `copy`, and the columns whose window crosses the left or right edge,
/// read padding.
private struct Window {
    let offset: Int
    let copy: Range<Int>
    let width: Int
    let pixels: Int
    /// Columns at the start (dx < 0) or end (dx > 0) of each row reading padding.
    let wrappedStart: Int
    let wrappedCount: Int

    init(kernel: Int, height: Int, width: Int, ky: Int, kx: Int) {
        let pad = (kernel - 1) / 2
        let dy = ky - pad
        let dx = kx - pad
        let pixels = height * width
        offset = dy * width + dx
        // Rows whose source row exists, clipped to sources inside the plane.
        // (A kernel wider than the image leaves some taps nothing to read.)
        let firstRow = max(0, -dy)
        let endRow = max(firstRow, min(height, height - dy))
        let lower = min(pixels, max(firstRow * width, -offset))
        copy = lower..<max(lower, min(endRow * width, pixels - offset))
        self.width = width
        self.pixels = pixels
        wrappedStart = dx < 0 ? 0 : max(0, width - dx)
        wrappedCount = min(abs(dx), width)
    }

    /// The copy over `planes` adjacent planes: from the first plane's start
    /// of `copy` to the last plane's end; what it brings in from a
    /// neighbouring plane is padding, which `zeroPadding` then clears.
    func copy(planes: Int) -> Range<Int> {
        copy.lowerBound..<((planes - 1) * pixels + copy.upperBound)
    }

    /// Zeroes the entries of one block that stand for padding. The columns
    /// are zeroed down the rows (a strided loop), not row by row, which the
    /// compiler would turn into a `memset` call per row for one or two floats.
    @inline(__always)
    func zeroPadding(_ block: UnsafeMutablePointer<Float>) {
        if copy.lowerBound > 0 { block.initialize(repeating: 0, count: copy.lowerBound) }
        if copy.upperBound < pixels { (block + copy.upperBound).initialize(repeating: 0, count: pixels - copy.upperBound) }
        let rows = pixels / width
        for x in wrappedStart..<(wrappedStart + wrappedCount) {
            for y in 0..<rows { block[y * width + x] = 0 }
        }
    }
}
