import CBLAS

/// OpenBLAS's worker-thread count, process-wide. Federated clients train
/// many small models at once and want 1; centralised training may want more.
public enum BLASThreads {
    public static func set(_ count: Int) {
        openblas_set_num_threads(Int32(max(count, 1)))
    }
}
