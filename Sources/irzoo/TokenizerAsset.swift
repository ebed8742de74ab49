import Foundation
import IRCheckpoint
import IRFormat
import IRModels
import IRRegistry
import IRTensor

/// CLIP's BPE vocabulary kept in the store beside a text encoder's weights: `irzoo import
/// --vocab FILE` adds the file's bytes (as given, gzip or text) to the .irw as one `u8` tensor,
/// `tokenizer.bpe_merges`, covered by the blob's digest like every tensor; `irzoo run --prompt`
/// reads it when no `--vocab` is given. It is not a weight: the model is built from the other
/// tensors, checked against the inventory as usual.
enum TokenizerAsset {
    static let tensorName = "tokenizer.bpe_merges"

    /// Adds the vocabulary to an import of a text encoder; refuses other families and files that
    /// are not a CLIP BPE merges file (checked by building the tokenizer once).
    static func attach(_ path: String, to mapping: inout Importer.Mapping) throws {
        let family = (try Zoo.embedded()).manifest(mapping.architecture)?.family ?? mapping.architecture
        guard family == CLIPTextConfig.family || family == UniLDiffConfig.family else {
            throw CLIError(.usage, "--vocab is for text encoders (clip-text) and unildiff; this checkpoint imports as \(mapping.architecture)")
        }
        let bytes = try read(path)
        do {  // refuse a file that is not CLIP's merges now, not at the first run
            _ = try CLIPTokenizer(mergesText: try mergesText(bytes, source: path), source: path)
        } catch let e as ModelError {
            throw CLIError(.unreadableInput, e.reason)
        }
        let data = ByteBuffer.copying(bytes).whole
        mapping.tensors.removeAll { $0.record.name == tensorName }  // re-importing an .irw that has one
        let record = try TensorRecord(name: tensorName, dtype: .u8, shape: [bytes.count], data: data)
        mapping.tensors.append((record: record, sourceName: DurableFile.fileName(of: path)))
        mapping.rules.append("tokenizer vocabulary '\(DurableFile.fileName(of: path))' (\(bytes.count) bytes) kept as \(tensorName)")
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError(.unreadableInput, "\(path): cannot read the BPE vocabulary file")
        }
        return [UInt8](data)
    }

    /// The merges text of a gzip or plain file.
    static func mergesText(_ bytes: [UInt8], source: String) throws -> [UInt8] {
        Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, file: source) : bytes
    }

    /// The tokenizer for `model` (its pad token and context) from a gzip or plain merges file.
    static func tokenizer(_ bytes: [UInt8], for model: CLIPTextModel, source: String) throws -> CLIPTokenizer {
        do {
            return try model.tokenizer(mergesText: try mergesText(bytes, source: source), source: source)
        } catch let e as ModelError {
            throw CLIError(.unreadableInput, e.reason)
        }
    }

    /// The stored vocabulary, if any, and the weight tensors without it.
    static func split(_ records: [TensorRecord]) -> (weights: [TensorRecord], vocabulary: [UInt8]?) {
        guard let asset = records.first(where: { $0.name == tensorName && $0.dtype == .u8 }) else { return (records, nil) }
        let bytes = asset.data.withUnsafeBytes { [UInt8]($0) }
        return (records.filter { $0.name != tensorName }, bytes)
    }
}
