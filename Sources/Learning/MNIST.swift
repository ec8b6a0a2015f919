/// MNIST from the four gzip IDX files, pixels scaled to [0, 1].
public enum MNIST {
    /// md5 sums of the uncompressed files, as published with the dataset
    /// (see data/mnist/README.md); checked on every load.
    static let checksums = [
        "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
    ]

    /// Loads the 60,000 training and 10,000 test samples from `directory`.
    /// - Throws: `DatasetError` when a file is missing, corrupt, truncated
    ///   or does not match its published md5 sum.
    public static func load(directory: String) throws(DatasetError) -> (train: Dataset, test: Dataset) {
        let train = try load(directory: directory, images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz")
        let test = try load(directory: directory, images: "t10k-images-idx3-ubyte.gz", labels: "t10k-labels-idx1-ubyte.gz")
        return (train, test)
    }

    /// Loads one images/labels pair; the md5 check applies to the known file names.
    public static func load(directory: String, images: String, labels: String) throws(DatasetError) -> Dataset {
        let imagePath = directory + "/" + images
        let labelPath = directory + "/" + labels
        let imageFile = try IDXFile(path: imagePath, md5: checksums[images])
        let labelFile = try IDXFile(path: labelPath, md5: checksums[labels])
        guard imageFile.dimensions.count == 3 else {
            throw .badIDXHeader(path: imagePath, offset: 3, reason: "expected rank 3 (count, rows, columns), got \(imageFile.dimensions.count)")
        }
        guard labelFile.dimensions.count == 1 else {
            throw .badIDXHeader(path: labelPath, offset: 3, reason: "expected rank 1, got \(labelFile.dimensions.count)")
        }
        let count = imageFile.dimensions[0]
        guard labelFile.dimensions[0] == count else {
            throw .countMismatch(images: imagePath, labels: labelPath, imageCount: count, labelCount: labelFile.dimensions[0])
        }
        let width = imageFile.dimensions[1] * imageFile.dimensions[2]
        var features = [Float](repeating: 0, count: count * width)
        imageFile.bytes.withUnsafeBufferPointer { source in
            features.withUnsafeMutableBufferPointer { target in
                for i in 0..<(count * width) { target[i] = Float(source[imageFile.headerSize + i]) / 255 }
            }
        }
        let labelValues = labelFile.bytes[labelFile.headerSize...].map { Int($0) }
        if let bad = labelValues.firstIndex(where: { $0 > 9 }) {
            throw .badIDXHeader(path: labelPath, offset: labelFile.headerSize + bad, reason: "label \(labelValues[bad]) is not a digit")
        }
        return try Dataset(features: features, labels: labelValues, featureCount: width, classCount: 10)
    }
}
