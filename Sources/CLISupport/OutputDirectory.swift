import ArgumentParser
import Foundation

/// Output directories are checked when a command starts, so a typo costs a second, not a
/// whole run, and the error is one line naming the flag.
public enum OutputDirectory {
    /// Creates `path` (with its parents) and checks it can be written.
    /// - Throws: `CommandError` naming `--flag` and the reason, without Foundation's dump.
    public static func prepare(_ path: String, flag: String) throws(CommandError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CommandError("--\(flag): \(path) is a file, not a directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CommandError("--\(flag): cannot create \(path): \(blockingAncestor(of: path) ?? reason(error))")
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw CommandError("--\(flag): \(path) is not writable")
        }
    }

    /// The nearest existing ancestor of `path` that is a file (so nothing can be created under it).
    private static func blockingAncestor(of path: String) -> String? {
        var url = URL(fileURLWithPath: path).deletingLastPathComponent()
        while url.path != "/" {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
                return isDirectory.boolValue ? nil : "\(url.path) is a file, not a directory"
            }
            url.deleteLastPathComponent()
        }
        return nil
    }

    /// A Foundation file error in a few words ("no such file or directory"), as `ls` would say it.
    public static func reason(_ error: any Error) -> String {
        let error = error as NSError
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code))).lowercased()
        }
        switch CocoaError.Code(rawValue: error.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or directory"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        case .fileWriteOutOfSpace: return "no space left on device"
        case .fileWriteFileExists: return "a file is in the way"
        default: return error.localizedDescription
        }
    }
}

/// A command's failure as the one line the argument parser prints (`Error: …`, exit 1),
/// without Foundation's `NSCocoaErrorDomain … UserInfo={…}` dump.
public struct CommandError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }

    /// Reads a whole input file, or fails with one line naming it and why.
    public static func read(_ path: String) throws(CommandError) -> Data {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CommandError("cannot read \(path): it is a directory")
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CommandError("cannot read \(path): \(OutputDirectory.reason(error))")
        }
    }
}
