import IRTensor

/// Import-time matching of a tensor table to a registered model: which layout reads it, which
/// config its shapes follow, and whether every tensor fits the model's inventory.
public struct Resolution<T: MappableTensor> {
    /// The manifest the tensors were matched to (for a custom config, the closest registered variant).
    public var manifest: ZooManifest
    public var config: ModelConfig
    public var layout: SourceLayout
    public var mapped: MappedTensors<T>
    public var report: InventoryReport
    /// Where the config came from: "manifest", "detected from shapes", "manifest + --config", ...
    public var configSource: String
    /// Whether `config` equals the manifest's own config (false for a user's own variant).
    public var configMatchesManifest: Bool
    /// What the weights could not tell (assumed values), one line each.
    public var notes: [String]

    public var isExact: Bool { report.isExact }
}

/// A family that came close without fitting: for "no registered model matches" messages.
public struct NearMiss: Sendable, CustomStringConvertible {
    public var manifestID: String
    public var family: String
    /// Identifying tensors that were absent, when the family could not even be read off the shapes.
    public var missingIdentifying: [String]
    /// The inventory check against the detected config, when the family could be read.
    public var report: InventoryReport?
    /// Fraction of the model's tensors found with the right shape (0...1).
    public var score: Double

    public var description: String {
        if let report {
            let first = report.lines.prefix(5).joined(separator: "; ")
            return "\(manifestID) (family \(family)): \(report.summary)" + (first.isEmpty ? "" : ": \(first)")
        }
        return "\(manifestID) (family \(family)): missing \(missingIdentifying.prefix(5).joined(separator: ", "))"
    }
}

public enum DetectionOutcome<T: MappableTensor> {
    case matched(Resolution<T>)
    /// Nothing fits; the closest candidates first.
    case noMatch(closest: [NearMiss])
}

public enum ModelResolver {
    /// Matches `tensors` to `manifest` (`--arch ID`). The config is the manifest's merged with
    /// `configOverride` when given; otherwise the manifest's, or, when that does not fit, the one
    /// read off the shapes (a user's own width or depth). Returns the best layout even when the
    /// inventory check fails, so the caller can report every problem.
    public static func resolve<T: MappableTensor>(_ tensors: [T], manifest: ZooManifest,
                                                  configOverride: JSON? = nil) throws -> Resolution<T> {
        guard let manifestConfig = manifest.modelConfig, let family = manifest.architecture else {
            throw ConfigError(manifest.family, "family", "\(manifest.id) has no Swift model yet: \(manifest.reason ?? "not runnable")")
        }
        var best: Resolution<T>?
        var mappingErrors = [String]()
        for layout in manifest.layouts {
            let mapped: MappedTensors<T>
            do { mapped = try KeyMapper.apply(layout, to: tensors) } catch {
                mappingErrors.append("layout \(layout.name): \(error)")
                continue
            }
            var candidates: [(ModelConfig, String, [String])] = []
            if let configOverride {
                candidates.append((try family.decode(manifestConfig.json.merging(configOverride)), "manifest + --config", []))
            } else {
                candidates.append((manifestConfig, "manifest", []))
                if let (detected, notes) = try? family.detect(ShapeTable(mapped.tensors)), detected != manifestConfig {
                    candidates.append((detected, "detected from shapes", notes))
                }
            }
            for (config, source, notes) in candidates {
                let report = InventoryCheck.check(expected: config.inventory, tensors: mapped.tensors)
                let r = Resolution(manifest: manifest, config: config, layout: layout, mapped: mapped, report: report,
                                   configSource: source, configMatchesManifest: config == manifestConfig, notes: notes)
                if report.isExact { return r }
                if best.map({ problems(report) < problems($0.report) }) ?? true { best = r }
            }
        }
        guard let best else {
            throw KeyMappingError(tensor: "*", reason: "no layout of \(manifest.id) applies: " + mappingErrors.joined(separator: "; "))
        }
        return best
    }

    /// Finds the registered model these tensors are (import without `--arch`): every family
    /// with a Swift config reads its hyperparameters off the shapes under each of its layouts,
    /// and the first exact inventory match wins, a registered variant with the same config first.
    public static func detect<T: MappableTensor>(_ tensors: [T], zoo: Zoo, configOverride: JSON? = nil) -> DetectionOutcome<T> {
        var exact = [Resolution<T>]()
        var near = [NearMiss]()
        let byFamily = Dictionary(grouping: zoo.manifests.filter { $0.modelConfig != nil }, by: { $0.family })
        for family in zoo.families.all {
            guard let manifests = byFamily[family.id], let representative = manifests.first else { continue }
            var layoutsSeen = Set<String>()
            var familyNear: NearMiss?
            for manifest in manifests {
                for layout in manifest.layouts where layoutsSeen.insert(layout.name).inserted {
                    guard let mapped = try? KeyMapper.apply(layout, to: tensors) else { continue }
                    let table = ShapeTable(mapped.tensors)
                    let detected: (config: ModelConfig, notes: [String])?
                    do {
                        detected = try family.detect(table)
                    } catch {
                        familyNear = better(familyNear, NearMiss(manifestID: representative.id, family: family.id,
                                                                 missingIdentifying: ["a valid config (\(error))"], report: nil, score: 0.5))
                        continue
                    }
                    guard let (detectedConfig, notes) = detected else {
                        let missing = family.missingIdentifyingTensors(table)
                        familyNear = better(familyNear, NearMiss(manifestID: representative.id, family: family.id,
                                                                 missingIdentifying: missing, report: nil, score: 0))
                        continue
                    }
                    var config = detectedConfig
                    var source = "detected from shapes"
                    if let configOverride, let merged = try? family.decode(config.json.merging(configOverride)) {
                        config = merged
                        source = "detected from shapes + --config"
                    }
                    let report = InventoryCheck.check(expected: config.inventory, tensors: mapped.tensors)
                    // Same config: the variant published in this layout first (ESRGAN's and Real-ESRGAN's x4 are one network).
                    let sameConfig = manifests.filter { $0.modelConfig == config }
                    let target = sameConfig.first { $0.layout(named: layout.name) != nil } ?? sameConfig.first
                        ?? manifests.first { $0.id == family.id } ?? manifests.first { $0.layout(named: layout.name) != nil } ?? representative
                    if report.isExact {
                        exact.append(Resolution(manifest: target, config: config, layout: layout, mapped: mapped, report: report,
                                                configSource: source, configMatchesManifest: target.modelConfig == config, notes: notes))
                    } else {
                        let total = Double(max(config.inventory.count + report.unexpected.count, 1))
                        familyNear = better(familyNear, NearMiss(manifestID: target.id, family: family.id, missingIdentifying: [],
                                                                 report: report, score: Double(report.matched) / total))
                    }
                }
            }
            if let familyNear { near.append(familyNear) }
        }
        // Prefer a registered variant's own config, then the fewest tensors dropped, then the
        // simplest layout (a renaming layout whose rules matched nothing also fits a file in
        // upstream names: ESRGAN's old names against Real-ESRGAN's), then the first found.
        func dropped(_ r: Resolution<T>) -> Int { r.mapped.dropped.reduce(0) { $0 + $1.names.count } }
        func rules(_ r: Resolution<T>) -> Int { r.layout.renames.count + r.layout.splits.count + r.layout.drop.count }
        if let pick = exact.enumerated().min(by: { x, y in
            let (a, b) = (x.element, y.element)
            if a.configMatchesManifest != b.configMatchesManifest { return a.configMatchesManifest }
            if dropped(a) != dropped(b) { return dropped(a) < dropped(b) }
            if rules(a) != rules(b) { return rules(a) < rules(b) }
            return x.offset < y.offset
        })?.element {
            return .matched(pick)
        }
        return .noMatch(closest: near.sorted { $0.score > $1.score })
    }

    private static func problems(_ r: InventoryReport) -> Int { r.missing.count + r.unexpected.count + r.mismatched.count }

    private static func better(_ a: NearMiss?, _ b: NearMiss) -> NearMiss {
        guard let a else { return b }
        return b.score > a.score ? b : a
    }
}
