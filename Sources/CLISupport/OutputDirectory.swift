import ArgumentParser
import Foundation

/// Output directories are checked when a command starts, so a typo costs a second, not a
/// whole run, and the error is one line naming the flag.
public enum OutputDirectory {
    /// Creates `path` (with its parents) and checks it can be written.
    /// - Throws: `ValidationError` naming `--flag` and the reason, without Foundation's dump.
    public static func prepare(_ path: String, flag: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("--\(flag): \(path) is a file, not a directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("--\(flag): cannot create \(path): \(reason(error))")
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw ValidationError("--\(flag): \(path) is not writable")
        }
    }

    /// The underlying POSIX reason of a Foundation file error ("Permission denied"), else its short text.
    public static func reason(_ error: any Error) -> String {
        let error = error as NSError
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
            let code = POSIXErrorCode(rawValue: Int32(underlying.code))
        {
            return String(cString: strerror(code.rawValue))
        }
        return error.localizedDescription
    }
}
