extension CodecSpec {
    /// Parses a spec string such as `topk:0.01+int8+deflate`.
    /// - Throws: ``CodecSpecError`` naming the offending stage.
    public init(parsing spec: String) throws(CodecSpecError) {
        let stages = spec.split(separator: "+", omittingEmptySubsequences: false).map {
            $0.trimmingWhitespace()
        }
        guard !spec.trimmingWhitespace().isEmpty else { throw .empty }
        var result = CodecSpec()
        var rank = 0  // 1 topk, 2 value codec, 3 deflate: stages must come in increasing rank.
        var sawValues = false
        for stage in stages {
            guard !stage.isEmpty else { throw .empty }
            let parts = stage.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].lowercased()
            let parameter = parts.count > 1 ? String(parts[1]) : nil
            let stageRank: Int
            switch name {
            case "topk":
                stageRank = 1
                guard let parameter else { throw .missingParameter(stage: name) }
                guard let fraction = Float(parameter), fraction > 0, fraction <= 1 else {
                    throw .invalidParameter(stage: name, value: parameter)
                }
                result.topkFraction = fraction
            case "deflate":
                stageRank = 3
                if parameter != nil { throw .unexpectedParameter(stage: name) }
                result.deflate = true
            default:
                // Any registered value codec: the codec parses its own parameter.
                guard let codec = ValueCodecRegistry.codec(named: name) else { throw .unknownStage(stage) }
                stageRank = 2
                if sawValues { throw .duplicateStage(name) }
                sawValues = true
                result.values = try codec.init(parameter: parameter)
            }
            if stageRank == rank { throw .duplicateStage(name) }
            if stageRank < rank { throw .stageOutOfOrder(name) }
            rank = stageRank
        }
        self = result
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String { self[...].trimmingWhitespace() }
}
