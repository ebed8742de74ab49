import Foundation
import IRImage

/// Which files a batch restores and where each result goes.
public enum BatchPlan {
    /// Items for `inputs` (files and folders) into the folder `output`. A folder's images (by
    /// extension: .png .jpg .jpeg .tif .tiff .webp; hidden files skipped) keep their path relative
    /// to it, recursively when `recursive`; a file given by name lands as `output/NAME`. With
    /// `format`, outputs take that format's extension. Sorted, so every run sees the same order.
    public static func items(inputs: [String], output: String, recursive: Bool, format: ImageFormat?) throws -> [BatchItem] {
        let fm = FileManager.default
        let outputRoot = URL(fileURLWithPath: output).standardizedFileURL.path
        let outputBase = output.hasSuffix("/") && output.count > 1 ? String(output.dropLast()) : output
        var items = [BatchItem]()
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else { throw ImageIOError(file: input, reason: "no such file or folder") }
            if !isDir.boolValue {
                items.append(BatchItem(input: input, output: outputPath(outputBase, relative: (input as NSString).lastPathComponent, format: format)))
                continue
            }
            let root = URL(fileURLWithPath: input).standardizedFileURL.path
            for relative in try imageFiles(under: root, recursive: recursive, excluding: outputRoot) {
                items.append(BatchItem(input: (input as NSString).appendingPathComponent(relative),
                                       output: outputPath(outputBase, relative: relative, format: format)))
            }
        }
        var seen = [String: String]()
        for item in items {
            let source = URL(fileURLWithPath: item.input).standardizedFileURL.path
            if source == URL(fileURLWithPath: item.output).standardizedFileURL.path { throw ImageIOError(file: item.input, reason: "the output would overwrite the input; choose another --output folder") }
            if let other = seen[item.output] {
                throw ImageIOError(file: item.input, reason: "writes the same output as \(other) (\(item.output)); use --format or separate folders")
            }
            seen[item.output] = item.input
        }
        return items
    }

    /// Relative paths of the image files under `root`, sorted; `excluding` (the output folder) is not entered.
    static func imageFiles(under root: String, recursive: Bool, excluding: String) throws -> [String] {
        let fm = FileManager.default
        var out = [String]()
        func walk(_ relative: String) throws {
            let dir = relative.isEmpty ? root : (root as NSString).appendingPathComponent(relative)
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: dir) } catch {
                throw ImageIOError(file: dir, reason: "cannot list the folder: \(error.localizedDescription)")
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let rel = relative.isEmpty ? name : (relative as NSString).appendingPathComponent(name)
                let full = (root as NSString).appendingPathComponent(rel)
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: full, isDirectory: &isDir) else { continue }
                if isDir.boolValue {
                    if recursive && URL(fileURLWithPath: full).standardizedFileURL.path != excluding { try walk(rel) }
                } else if ImageFormat(extensionOf: name) != nil {
                    out.append(rel)
                }
            }
        }
        try walk("")
        return out
    }

    static func outputPath(_ root: String, relative: String, format: ImageFormat?) -> String {
        var rel = relative
        if let format, ImageFormat(extensionOf: rel) != format {
            rel = (rel as NSString).deletingPathExtension + "." + format.preferredExtension
        }
        return (root as NSString).appendingPathComponent(rel)
    }
}
