import Foundation
import Learning
import Testing

struct MetricsTests {
    /// actual:    0 0 0 1 1 2 2 2 2 1
    /// predicted: 0 1 0 1 2 2 2 0 2 1
    /// matrix rows = actual: [2 1 0] [0 2 1] [1 0 3]
    @Test func confusionMatrixAndScoresMatchHandComputation() {
        let matrix = ConfusionMatrix(actual: [0, 0, 0, 1, 1, 2, 2, 2, 2, 1], predicted: [0, 1, 0, 1, 2, 2, 2, 0, 2, 1], classCount: 3)
        #expect(matrix.counts == [2, 1, 0, 0, 2, 1, 1, 0, 3])
        #expect(matrix.accuracy == 0.7)
        // class 0: precision 2/3, recall 2/3; class 1: 2/3, 2/3; class 2: 3/4, 3/4
        #expect(abs(matrix.precision(0) - 2.0 / 3) < 1e-12)
        #expect(abs(matrix.recall(2) - 0.75) < 1e-12)
        #expect(abs(matrix.f1(2) - 0.75) < 1e-12)
        #expect(abs(matrix.macroF1 - (2.0 / 3 + 2.0 / 3 + 0.75) / 3) < 1e-12)
    }

    @Test func classNeverPredictedHasZeroPrecisionAndF1() {
        // actual 0 0 1 1, predicted 0 0 0 0: class 1 is never predicted.
        let matrix = ConfusionMatrix(actual: [0, 0, 1, 1], predicted: [0, 0, 0, 0], classCount: 2)
        #expect(matrix.precision(1) == 0)
        #expect(matrix.recall(1) == 0)
        #expect(matrix.f1(1) == 0)
        #expect(abs(matrix.f1(0) - 2 * 0.5 / 1.5) < 1e-12)
        #expect(abs(matrix.macroF1 - (2.0 / 3) / 2) < 1e-12)
    }

    @Test func evaluationLossIsMeanCrossEntropy() throws {
        // A zero-weight dense layer gives uniform softmax: loss = ln(classes).
        let spec = try ModelSpec(name: "zero", inputSize: 3, classCount: 4, layers: [.dense(inputs: 3, outputs: 4)])
        let network = Network(spec: spec, seed: 1)
        try network.load(parameters: Array(repeating: 0, count: spec.parameterCount))
        let data = Fixtures.randomDataset(count: 7, features: 3, classes: 4, seed: 3)
        let evaluation = try network.evaluate(on: data, batchSize: 3)
        #expect(abs(evaluation.loss - log(4.0)) < 1e-6)
        #expect(evaluation.confusion.total == 7)
    }
}
