// Wire's public API speaks FedCore's vocabulary (update ids, rejection reasons, message
// properties, seeded generators), so everyone who imports Wire sees those types too.
@_exported import FedCore
