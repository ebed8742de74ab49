import Foundation

// The EmbedZoo build-tool plugin's worker: `ZooEmbedder OUTPUT.swift MANIFEST.json...` writes
// Swift source declaring `EmbeddedZoo.files`, each manifest's file name and exact text, in
// file-name order. A manifest that is not UTF-8 JSON fails the build, naming the file.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
}

/// `text` as a one-line Swift string literal that holds exactly its scalars.
func swiftLiteral(_ text: String) -> String {
    var out = "\""
    for u in text.unicodeScalars {
        switch u {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 || u.value == 0x7F { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else { fail("usage: ZooEmbedder OUTPUT.swift MANIFEST.json...") }
let manifests = arguments.dropFirst().sorted { ($0 as NSString).lastPathComponent < ($1 as NSString).lastPathComponent }

var source = """
    // Generated at build time by the EmbedZoo plugin (Plugins/EmbedZoo) from Zoo/*.json.

    enum EmbeddedZoo {
        static let files: [(name: String, json: String)] = [

    """
for path in manifests {
    guard let data = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read") }
    guard let text = String(validating: data, as: UTF8.self) else { fail("\(path): not valid UTF-8") }
    guard (try? JSONSerialization.jsonObject(with: data)) != nil else { fail("\(path): not JSON") }
    source += "        (\(swiftLiteral((path as NSString).lastPathComponent)), \(swiftLiteral(text))),\n"
}
source += "    ]\n}\n"
do { try Data(source.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
    fail("\(output): \(error.localizedDescription)")
}
