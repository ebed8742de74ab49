import Foundation
import IRTensor

/// CLIP's byte-level BPE tokenizer, giving exactly the ids of transformers' `CLIPTokenizer` (the
/// `tokenizers` backend diffusers uses for SDXL's `tokenizer` and `tokenizer_2`):
///
/// 1. added tokens (`<|startoftext|>`, `<|endoftext|>`, and the pad token when it is `!`, as in
///    SDXL's `tokenizer_2`) are cut out of the raw text first, leftmost-longest;
/// 2. each other stretch is normalised: NFC, then every scalar lower-cased on its own (Unicode's
///    context-free full mapping, so a final Σ becomes σ, unlike Python's `str.lower`);
/// 3. pre-tokenised by CLIP's pattern (`CLIPPreTokenizer`); whitespace only separates;
/// 4. each piece's UTF-8 bytes become byte symbols, the last marked as a word end (`</w>`), and
///    are merged pair by pair, lowest merge rank first;
/// 5. `<|startoftext|>` … `<|endoftext|>` around the ids; `encodePadded` truncates to the
///    context (75 ids between the two) and pads.
///
/// open_clip's own tokenizer (SGM's path for the bigG encoder) differs only in its cleaning:
/// ftfy and HTML unescaping, Python lower-casing, no added tokens, and padding with 0.
public struct CLIPTokenizer: Sendable {
    public static let startOfText: Int32 = 49406
    public static let endOfText: Int32 = 49407
    /// Merges the CLIP vocabulary uses: 49152 − 256 − 2 lines after the version header.
    public static let mergeCount = 49152 - 256 - 2
    public static let vocabularySize = 512 + mergeCount + 2

    public let contextLength: Int
    public let padID: Int32
    /// `<|startoftext|>` and `<|endoftext|>`: 49406 and 49407 in CLIP's vocabulary.
    public let startID: Int32
    public let endID: Int32
    /// (left id << 32 | right id) → (merge rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Id of each byte's symbol, and of its word-end form (`</w>`).
    let byteIDs: [Int32]
    let byteEndIDs: [Int32]
    /// Cut out of the raw text before anything else, longest first.
    let addedTokens: [(scalars: [Unicode.Scalar], id: Int32)]

    /// Reads open_clip's `bpe_simple_vocab_16e6.txt` (gzip-decompressed: see `IRCheckpoint.Gzip`).
    /// `padToken` is `<|endoftext|>` (SDXL's `tokenizer`) or `!` (its `tokenizer_2`, id 0).
    public init(mergesText bytes: [UInt8], padToken: String = "<|endoftext|>", contextLength: Int = 77, source: String) throws {
        func fail(_ reason: String) -> ModelError { ModelError("\(source): not a CLIP BPE merges file: \(reason)") }
        guard contextLength >= 2 else { throw ModelError("CLIP tokenizer: a context of \(contextLength) tokens cannot hold start and end") }
        let byteSymbols = CLIPByteSymbols.symbols
        var vocab = byteSymbols.map { String($0) }
        vocab += byteSymbols.map { String($0) + "</w>" }
        var pairs = [(String, String)]()
        pairs.reserveCapacity(Self.mergeCount)
        var lineStart = 0, lineNumber = 0
        // Line 0 is the version header; lines 1 ... mergeCount are the merges used.
        for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
            defer { lineStart = i + 1; lineNumber += 1 }
            guard lineNumber >= 1 else { continue }
            guard pairs.count < Self.mergeCount else { break }
            guard let line = String(validating: bytes[lineStart..<i], as: UTF8.self) else { throw fail("line \(lineNumber + 1) is not UTF-8") }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw fail("line \(lineNumber + 1) is not a pair of symbols") }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        guard pairs.count == Self.mergeCount else { throw fail("\(pairs.count) merges, CLIP needs \(Self.mergeCount)") }
        vocab += pairs.map { $0.0 + $0.1 }
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        // As Python's dict(zip(vocab, range)): a repeated symbol keeps its last id.
        var ids = [String: Int32](minimumCapacity: vocab.count)
        for (i, s) in vocab.enumerated() { ids[s] = Int32(i) }
        guard ["<|endoftext|>", "!"].contains(padToken) else {
            throw ModelError("CLIP tokenizer: pad token '\(padToken)' is not <|endoftext|> or !")
        }
        try self.init(ids: ids, pairs: pairs, padToken: padToken, contextLength: contextLength, fail: fail)
    }

    /// Reads a tokenizer folder's `vocab.json` (symbol → id) and `merges.txt` (a `#version`
    /// header, then one merge per line, by rank), as transformers' `CLIPTokenizer` loads SDXL's
    /// `tokenizer/` and `tokenizer_2/`: every merge the file lists, the ids the vocabulary gives.
    /// `padToken` is the folder's (special_tokens_map.json); any pad other than `<|endoftext|>`
    /// is an added token, cut out of the text like the start and end tokens.
    public init(vocabJSON: [UInt8], mergesText: [UInt8], padToken: String, contextLength: Int = 77, source: String) throws {
        func fail(_ reason: String) -> ModelError { ModelError("\(source): not a CLIP tokenizer: \(reason)") }
        guard contextLength >= 2 else { throw ModelError("CLIP tokenizer: a context of \(contextLength) tokens cannot hold start and end") }
        let parsed: JSON
        do { parsed = try JSON.parse(vocabJSON) } catch { throw fail("vocab.json is not valid JSON: \(error)") }
        guard let object = parsed.objectValue else { throw fail("vocab.json is not a JSON object") }
        var ids = [String: Int32](minimumCapacity: 50_000)
        for (symbol, value) in object {
            guard let id = value.intValue, id >= 0, id < Int(Int32.max) else { throw fail("vocab.json: '\(symbol)' has no integer id") }
            ids[symbol] = Int32(id)
        }
        var pairs = [(String, String)]()
        var lineStart = 0, lineNumber = 0
        for i in 0...mergesText.count where i == mergesText.count || mergesText[i] == 0x0A {
            defer { lineStart = i + 1; lineNumber += 1 }
            guard let line = String(validating: mergesText[lineStart..<i], as: UTF8.self) else { throw fail("merges.txt line \(lineNumber + 1) is not UTF-8") }
            if line.isEmpty || (lineNumber == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw fail("merges.txt line \(lineNumber + 1) is not a pair of symbols") }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        guard ids[padToken] != nil else { throw fail("the pad token '\(padToken)' is not in vocab.json") }
        try self.init(ids: ids, pairs: pairs, padToken: padToken, contextLength: contextLength, fail: fail)
    }

    /// Reads the `tokenizer.json` transformers 5 saves instead of vocab.json and merges.txt: its
    /// `model` must be a BPE with the `</w>` word end; `vocab` and `merges` (each "a b" or
    /// ["a", "b"]) are used as the two files' contents are.
    public init(tokenizerJSON: [UInt8], padToken: String, contextLength: Int = 77, source: String) throws {
        func fail(_ reason: String) -> ModelError { ModelError("\(source): not a CLIP tokenizer: \(reason)") }
        let parsed: JSON
        do { parsed = try JSON.parse(tokenizerJSON) } catch { throw fail("tokenizer.json is not valid JSON: \(error)") }
        guard let model = parsed["model"]?.objectValue, model["type"]?.stringValue == "BPE" else { throw fail("tokenizer.json has no BPE model") }
        guard model["end_of_word_suffix"]?.stringValue == "</w>" else { throw fail("tokenizer.json's BPE does not mark word ends with </w>") }
        guard let vocab = model["vocab"]?.objectValue, let list = model["merges"]?.arrayValue else { throw fail("tokenizer.json has no vocab and merges") }
        var ids = [String: Int32](minimumCapacity: 50_000)
        for (symbol, value) in vocab {
            guard let id = value.intValue, id >= 0, id < Int(Int32.max) else { throw fail("tokenizer.json: '\(symbol)' has no integer id") }
            ids[symbol] = Int32(id)
        }
        var pairs = [(String, String)]()
        pairs.reserveCapacity(list.count)
        for (i, m) in list.enumerated() {
            if let s = m.stringValue {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw fail("merge \(i + 1) is not a pair of symbols") }
                pairs.append((String(parts[0]), String(parts[1])))
            } else if let a = m.arrayValue, a.count == 2, let l = a[0].stringValue, let r = a[1].stringValue {
                pairs.append((l, r))
            } else {
                throw fail("merge \(i + 1) is not a pair of symbols")
            }
        }
        guard ids[padToken] != nil else { throw fail("the pad token '\(padToken)' is not in the vocabulary") }
        try self.init(ids: ids, pairs: pairs, padToken: padToken, contextLength: contextLength, fail: fail)
    }

    /// The tokenizer over vocabulary `ids` and `pairs` by merge rank.
    private init(ids: [String: Int32], pairs: [(String, String)], padToken: String, contextLength: Int, fail: (String) -> ModelError) throws {
        var table = [UInt64: (rank: Int32, id: Int32)](minimumCapacity: pairs.count)
        for (rank, (a, b)) in pairs.enumerated() {
            guard let left = ids[a], let right = ids[b], let merged = ids[a + b] else {
                throw fail("merge \(rank + 1) (\(a) \(b)) names symbols that are not in the vocabulary")
            }
            let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
            if table[key] == nil { table[key] = (Int32(rank), merged) }
        }
        merges = table
        var byteIDs = [Int32](), byteEndIDs = [Int32]()
        for b in 0..<256 {
            let symbol = String(CLIPByteSymbols.symbol(UInt8(b)))
            guard let id = ids[symbol], let end = ids[symbol + "</w>"] else { throw fail("byte symbol '\(symbol)' (or its </w> form) is not in the vocabulary") }
            byteIDs.append(id)
            byteEndIDs.append(end)
        }
        self.byteIDs = byteIDs
        self.byteEndIDs = byteEndIDs
        guard let start = ids["<|startoftext|>"], let end = ids["<|endoftext|>"], let pad = ids[padToken] else {
            throw fail("<|startoftext|>, <|endoftext|> or the pad token '\(padToken)' is not in the vocabulary")
        }
        startID = start
        endID = end
        padID = pad
        var added: [(String, Int32)] = [("<|startoftext|>", start), ("<|endoftext|>", end)]
        if padToken != "<|endoftext|>" && padToken != "<|startoftext|>" { added.append((padToken, pad)) }
        addedTokens = added.map { (Array($0.0.unicodeScalars), $0.1) }.sorted { $0.scalars.count > $1.scalars.count }
        self.contextLength = contextLength
    }

    /// `<|startoftext|>`, the text's ids, `<|endoftext|>`: no truncation, no padding.
    public func encode(_ text: String) -> [Int32] { encode(text, stopAfter: .max) }

    /// Stops once `stopAfter` ids are there (the pieces after it cannot change them): a long
    /// prompt costs what its first 77 tokens cost.
    func encode(_ text: String, stopAfter limit: Int) -> [Int32] {
        var out: [Int32] = [startID]
        segments: for segment in splitAddedTokens(text) {
            switch segment {
            case .added(let id): out.append(id)
            case .text(let scalars):
                for piece in CLIPPreTokenizer.pieces(CLIPPreTokenizer.normalize(scalars)) {
                    if out.count >= limit { break segments }
                    out += bpe(piece)
                }
            }
            if out.count >= limit { break }
        }
        out.append(endID)
        return out
    }

    /// Exactly `contextLength` ids, as `tokenizer(text, padding="max_length", truncation=True)`:
    /// the first `contextLength − 2` text ids between start and end, then the pad id.
    public func encodePadded(_ text: String) -> [Int32] {
        var ids = encode(text, stopAfter: contextLength)
        if ids.count > contextLength {
            ids = Array(ids[0..<(contextLength - 1)]) + [endID]
        }
        return ids + [Int32](repeating: padID, count: contextLength - ids.count)
    }

    enum Segment { case text([Unicode.Scalar]), added(Int32) }

    /// The raw text cut at added tokens (leftmost match, longest first), as tokenizers'
    /// AddedVocabulary does for special tokens (not normalised, no stripping around them).
    func splitAddedTokens(_ text: String) -> [Segment] {
        let s = Array(text.unicodeScalars)
        var out = [Segment]()
        var start = 0, i = 0
        while i < s.count {
            if let token = addedTokens.first(where: { t in i + t.scalars.count <= s.count && s[i..<(i + t.scalars.count)].elementsEqual(t.scalars) }) {
                if start < i { out.append(.text(Array(s[start..<i]))) }
                out.append(.added(token.id))
                i += token.scalars.count
                start = i
            } else {
                i += 1
            }
        }
        if start < s.count { out.append(.text(Array(s[start...]))) }
        return out
    }

    /// The merged ids of one pre-tokenised piece.
    func bpe(_ piece: [Unicode.Scalar]) -> [Int32] {
        var bytes = [UInt8]()
        for u in piece { bytes += Array(String(u).utf8) }
        guard !bytes.isEmpty else { return [] }
        var word = bytes.map { byteIDs[Int($0)] }
        word[word.count - 1] = byteEndIDs[Int(bytes[bytes.count - 1])]
        while word.count > 1 {
            var best: (rank: Int32, id: Int32)?
            var bestKey: UInt64 = 0
            for j in 0..<(word.count - 1) {
                let key = UInt64(UInt32(word[j])) << 32 | UInt64(UInt32(word[j + 1]))
                if let m = merges[key], best == nil || m.rank < best!.rank { best = m; bestKey = key }
            }
            guard let merge = best else { break }
            // Every occurrence of the best pair, left to right.
            var next = [Int32]()
            next.reserveCapacity(word.count)
            var j = 0
            while j < word.count {
                if j + 1 < word.count, UInt64(UInt32(word[j])) << 32 | UInt64(UInt32(word[j + 1])) == bestKey {
                    next.append(merge.id)
                    j += 2
                } else {
                    next.append(word[j])
                    j += 1
                }
            }
            word = next
        }
        return word
    }
}

/// GPT-2's reversible byte → printable-character map, in CLIP's vocabulary order: the printable
/// Latin-1 bytes first (as themselves), then the other 68 bytes mapped to U+0100 onwards.
enum CLIPByteSymbols {
    static let order: [UInt8] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        let rest = (0..<256).filter { !printable.contains($0) }
        return (printable + rest).map { UInt8($0) }
    }()

    static func symbol(_ b: UInt8) -> Unicode.Scalar {
        let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
        if printable { return Unicode.Scalar(b) }
        let n = (0..<Int(b)).filter { x in !((0x21...0x7E).contains(x) || (0xA1...0xAC).contains(x) || (0xAE...0xFF).contains(x)) }.count
        return Unicode.Scalar(UInt32(256 + n))!
    }

    /// Vocabulary ids 0 ..< 256: the symbol of each byte in `order`.
    static let symbols: [Unicode.Scalar] = order.map { symbol($0) }
}

/// CLIP's normalisation and pre-tokenisation, as transformers' CLIPTokenizer configures them.
enum CLIPPreTokenizer {
    /// NFC, then each scalar's full lower-case mapping (no context: Rust's `char::to_lowercase`).
    /// transformers also folds whitespace runs to one space, which changes no piece.
    static func normalize(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var s = String()
        s.unicodeScalars.append(contentsOf: scalars)
        var out = [Unicode.Scalar]()
        for u in s.precomposedStringWithCanonicalMapping.unicodeScalars {
            out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
        }
        return out
    }

    static func isLetter(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static let contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }

    /// The matches of `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`, tried in that
    /// order at each position; what no alternative matches (whitespace) is dropped. transformers'
    /// pattern also starts with `<\|startoftext\|>|<\|endoftext\|>`, but those alternatives never
    /// take effect there (measured: `<|ENDOFTEXT|>` comes out as `<|`, `endoftext`, `|>`; the exact
    /// lower-case strings are added tokens, cut out before), so they are left out here.
    static func pieces(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var out = [[Unicode.Scalar]]()
        var i = 0
        func startsWith(_ lit: [Unicode.Scalar]) -> Bool { i + lit.count <= s.count && s[i..<(i + lit.count)].elementsEqual(lit) }
        while i < s.count {
            let u = s[i]
            if let lit = contractions.first(where: startsWith) {
                out.append(lit)
                i += lit.count
            } else if isLetter(u) {
                var j = i + 1
                while j < s.count && isLetter(s[j]) { j += 1 }
                out.append(Array(s[i..<j]))
                i = j
            } else if isNumber(u) {
                out.append([u])
                i += 1
            } else if u.properties.isWhitespace {
                i += 1
            } else {
                var j = i + 1
                while j < s.count && !isLetter(s[j]) && !isNumber(s[j]) && !s[j].properties.isWhitespace { j += 1 }
                out.append(Array(s[i..<j]))
                i = j
            }
        }
        return out
    }
}
