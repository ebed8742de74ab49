import IRCheckpoint
import IRRegistry
import IRTensor

/// A hub folder's `config.json` as the model's config: the fields the family knows replace the
/// ones read off the shapes (head counts, GroupNorm groups, scaling factor: what shapes cannot
/// tell), and the tensors must still fit it exactly. Other fields (`_class_name`, `act_fn`, ...)
/// describe the upstream Python class and are left aside.
enum HubConfig {
    /// The members of `config` that `manifest`'s family config has, as a `--config` object; nil
    /// when there is no config or none of its members is known.
    static func knownFields(_ config: JSON?, of manifest: ZooManifest) -> JSON? {
        guard let members = config?.objectValue, case .object(let known)? = manifest.modelConfig?.json else { return nil }
        var fields = JSON.Object()
        for (key, value) in members where known[key] != nil { fields[key] = value }
        return fields.isEmpty ? nil : .object(fields)
    }

    static func apply(_ config: JSON, path: String, to resolution: Resolution<TensorRecord>,
                      tensors: [TensorRecord]) throws -> Resolution<TensorRecord> {
        guard case .object(let known) = resolution.config.json, let members = config.objectValue else { return resolution }
        var fields = JSON.Object()
        for (key, value) in members where known[key] != nil { fields[key] = value }
        guard !fields.isEmpty else {
            var r = resolution
            r.notes.append("\(path) names no field of \(resolution.config.family): not used")
            return r
        }
        let checked: Resolution<TensorRecord>
        do {
            checked = try ModelResolver.resolve(tensors, manifest: resolution.manifest, configOverride: .object(fields))
        } catch let e as ConfigError {
            throw CLIError(.unreadableInput, "\(path): \(e)")
        } catch let e as DecodingError {
            throw CLIError(.unreadableInput, "\(path): \(DecodingErrorText.describe(e))")
        }
        guard checked.isExact else {
            let differences = fields.keys.sorted().compactMap { key -> String? in
                known[key] == fields[key] ? nil : "\(key) is \(fields[key]!.serialized()) there, \(known[key]!.serialized()) from the tensor shapes"
            }
            let first = checked.report.lines.first.map { "; first mismatch: \($0)" } ?? ""
            throw CLIError(.inventoryMismatch, "\(path) contradicts the weights: "
                           + (differences.isEmpty ? "the tensors do not fit its config" : differences.joined(separator: "; ")) + first)
        }
        var r = checked
        r.configSource = path
        return r
    }
}
