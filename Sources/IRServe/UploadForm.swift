import Foundation
import Hummingbird
import MultipartKit
import NIOCore
import NIOHTTP1

/// A `multipart/form-data` job submission, parsed from a body already bounded in bytes.
/// Fields: `model`, `image` (a file), optional `reference` (a file), `prompt`, `steps`, `seed`.
struct UploadForm {
    struct File {
        /// The client's name for display, cleaned (`UploadName.display`); never a path.
        var name: String
        var bytes: ByteBuffer
    }

    var fields = [String: String]()
    var files = [String: File]()

    static let fileFields: Set<String> = ["image", "reference"]
    static let textFields: Set<String> = ["model", "prompt", "steps", "seed"]
    static let maxParts = 16
    static let maxTextBytes = 4096

    /// Parses the body, refusing with a one-line reason anything but the fields above, each once.
    static func parse(contentType: String?, body: ByteBuffer) throws -> UploadForm {
        guard let contentType, let boundary = boundary(of: contentType) else {
            throw JobFailure.badRequest("expected Content-Type multipart/form-data with a boundary")
        }
        guard headerNamesAreASCII(body, boundary: boundary) else {
            throw JobFailure.badRequest("a form part's header has a name that is not ASCII")
        }
        var parts = [MultipartPart]()
        var headers = HTTPHeaders(), data = ByteBuffer()
        var overflow: String?
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in headers.add(name: name, value: value) }
        parser.onBody = { chunk in data.writeBuffer(&chunk) }
        parser.onPartComplete = {
            if parts.count >= maxParts { overflow = "more than \(maxParts) form parts"; return }
            parts.append(MultipartPart(headers: headers, body: data))
            headers = HTTPHeaders()
            data = ByteBuffer()
        }
        do { try parser.execute(body) } catch {
            throw JobFailure.badRequest("the multipart body is malformed")
        }
        if let overflow { throw JobFailure.badRequest(overflow) }
        guard !parts.isEmpty else { throw JobFailure.badRequest("the multipart body has no parts (is the closing boundary missing?)") }

        var form = UploadForm()
        for part in parts {
            let disposition = part.headers.first(name: "Content-Disposition") ?? ""
            let params = dispositionParameters(disposition)
            guard let name = params["name"] else { throw JobFailure.badRequest("a form part has no name") }
            if form.fields[name] != nil || form.files[name] != nil { throw JobFailure.badRequest("form field '\(UploadName.display(name))' given twice") }
            if fileFields.contains(name) {
                form.files[name] = File(name: UploadName.display(params["filename"] ?? name), bytes: part.body)
            } else if textFields.contains(name) {
                guard part.body.readableBytes <= maxTextBytes, let text = part.body.getString(at: part.body.readerIndex, length: part.body.readableBytes),
                      !text.contains("\u{0}") else {
                    throw JobFailure.badRequest("form field '\(name)' must be UTF-8 text of at most \(maxTextBytes) bytes")
                }
                form.fields[name] = text
            } else {
                throw JobFailure.badRequest("unknown form field '\(UploadName.display(name))' (fields: model, image, reference, prompt, steps, seed)")
            }
        }
        return form
    }

    /// MultipartKit 4.7.1 looks each byte of a part's header *name* up in a 128-entry table, so a
    /// byte over 0x7F there traps (a remote crash, found by schemathesis). Header names are ASCII
    /// (RFC 7578), so such a body is refused before the parser sees it: after every "--boundary",
    /// in each line of the header block, the bytes before the first ':' (all of them when there is
    /// none) must be ASCII. Values (UTF-8 file names) are not restricted.
    static func headerNamesAreASCII(_ body: ByteBuffer, boundary: String) -> Bool {
        let bytes = body.readableBytesView
        let delimiter = Array(("--" + boundary).utf8)
        guard bytes.count >= delimiter.count else { return true }
        var i = bytes.startIndex
        while let start = firstIndex(of: delimiter, in: bytes, from: i) {
            var j = start + delimiter.count
            var inName = true
            // Up to the blank line that ends the header block.
            while j < bytes.endIndex {
                let b = bytes[j]
                if b == 0x0D, j + 3 < bytes.endIndex, bytes[j + 1] == 0x0A, bytes[j + 2] == 0x0D, bytes[j + 3] == 0x0A { break }
                if b == 0x0A { inName = true } else if b == 0x3A { inName = false } else if inName && b >= 0x80 { return false }
                j += 1
            }
            i = start + delimiter.count
        }
        return true
    }

    static func firstIndex(of needle: [UInt8], in hay: ByteBufferView, from: Int) -> Int? {
        guard !needle.isEmpty, hay.endIndex - from >= needle.count else { return nil }
        var k = from
        let last = hay.endIndex - needle.count
        while k <= last {
            if hay[k] == needle[0] {
                var m = 1
                while m < needle.count && hay[k + m] == needle[m] { m += 1 }
                if m == needle.count { return k }
            }
            k += 1
        }
        return nil
    }

    /// The boundary parameter of a multipart/form-data content type (1-70 characters, RFC 2046).
    static func boundary(of contentType: String) -> String? {
        let items = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = items.first, first.lowercased() == "multipart/form-data" else { return nil }
        for item in items.dropFirst() {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].lowercased() == "boundary" else { continue }
            var b = String(kv[1])
            if b.count >= 2, b.hasPrefix("\""), b.hasSuffix("\"") { b = String(b.dropFirst().dropLast()) }
            guard (1...70).contains(b.utf8.count), b.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
            return b
        }
        return nil
    }

    /// `form-data; name="image"; filename="a;b.png"` → ["name": "image", "filename": "a;b.png"].
    static func dispositionParameters(_ value: String) -> [String: String] {
        var out = [String: String]()
        var i = value.startIndex
        // Skip the disposition type.
        while i < value.endIndex, value[i] != ";" { i = value.index(after: i) }
        while i < value.endIndex {
            i = value.index(after: i)  // past ';'
            while i < value.endIndex, value[i] == " " { i = value.index(after: i) }
            var key = ""
            while i < value.endIndex, value[i] != "=", value[i] != ";" { key.append(value[i]); i = value.index(after: i) }
            var val = ""
            if i < value.endIndex, value[i] == "=" {
                i = value.index(after: i)
                if i < value.endIndex, value[i] == "\"" {
                    i = value.index(after: i)
                    while i < value.endIndex, value[i] != "\"" {
                        if value[i] == "\\", value.index(after: i) < value.endIndex { i = value.index(after: i) }
                        val.append(value[i])
                        i = value.index(after: i)
                    }
                    if i < value.endIndex { i = value.index(after: i) }
                    while i < value.endIndex, value[i] != ";" { i = value.index(after: i) }
                } else {
                    while i < value.endIndex, value[i] != ";" { val.append(value[i]); i = value.index(after: i) }
                }
            }
            let k = key.trimmingCharacters(in: .whitespaces).lowercased()
            if !k.isEmpty, out[k] == nil { out[k] = val }
        }
        return out
    }
}

/// A client's file name is shown and offered back as a download name, never used as a path:
/// uploads are stored under names the server makes.
enum UploadName {
    /// The last component, control and invisible characters replaced, at most 120 characters.
    static func display(_ raw: String) -> String {
        let last = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(String.UnicodeScalarView(last.unicodeScalars.map { s -> Unicode.Scalar in
            let bad = s.value < 0x20 || s.value == 0x7F || (0x80...0x9F).contains(s.value) || (0x200B...0x200F).contains(s.value)
                || (0x202A...0x202E).contains(s.value) || (0x2066...0x2069).contains(s.value) || s.value == 0xFEFF
            return bad ? "_" : s
        }))
        let trimmed = cleaned.trimmingCharacters(in: .whitespaces)
        let safe = trimmed.isEmpty || trimmed == "." || trimmed == ".." ? "image" : trimmed
        return String(safe.prefix(120))
    }

    /// A download name for the result: the input's stem + "-restored.png", ASCII only
    /// (a Content-Disposition header value the browser cannot misread).
    static func resultName(for input: String) -> String {
        var stem = display(input)
        if let dot = stem.lastIndex(of: "."), dot > stem.startIndex { stem = String(stem[..<dot]) }
        let ascii = String(stem.unicodeScalars.map { s -> Character in
            s.isASCII && (CharacterSet.alphanumerics.contains(s) || "-_. ".unicodeScalars.contains(s)) ? Character(s) : "_"
        })
        return (ascii.isEmpty ? "image" : String(ascii.prefix(80))) + "-restored.png"
    }
}
