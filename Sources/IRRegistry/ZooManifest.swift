import Foundation
import IRTensor

/// One registered model variant (`Zoo/<id>.json`): what it is, where its weights come from,
/// how to read them, what the network expects as input, and how it is tested.
/// Decoding is strict: an unknown field anywhere is an error naming it.
public struct ZooManifest: Decodable, Sendable {
    public var id: String
    public var family: String
    public var title: String
    public var summary: String
    public var paper: Paper
    public var upstream: Upstream
    public var tasks: [String]
    /// The family's config as written; `modelConfig` is its typed, validated form.
    public var config: JSON
    /// Nil for families without a Swift config yet (their manifests are not runnable), and
    /// until a `Zoo` types the manifest with its families.
    public var modelConfig: ModelConfig?
    /// The family that typed `modelConfig` (decodes `--config` overrides, detects from shapes).
    public var architecture: ArchitectureFamily?
    public var input: InputContract
    public var layouts: [SourceLayout]
    /// Parameter count of the published config as upstream counts it (sum of `parameters()`).
    public var parameters: Int?
    /// Entries in the upstream state_dict of the published config.
    public var stateDictKeys: Int?
    public var golden: Golden?
    public var runnable: Bool
    /// Why it cannot run (required when `runnable` is false).
    public var reason: String?
    /// Named extra inputs `irzoo run --aux` accepts (e.g. SE-SymUNet's pos_embeds).
    public var auxInputs: [AuxInput]
    public var notes: [String]

    public struct Paper: Decodable, Sendable, Equatable {
        public var title: String
        public var arxiv: String?
        public var venue: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case title, arxiv, venue }
        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self, in: "paper")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            title = try c.decode(String.self, forKey: .title)
            arxiv = try c.decodeIfPresent(String.self, forKey: .arxiv)
            venue = try c.decodeIfPresent(String.self, forKey: .venue)
        }
    }

    public struct Upstream: Decodable, Sendable, Equatable {
        /// Repository URL, nil when there is no public code.
        public var repo: String?
        public var commit: String?
        /// File names the upstream code writes or the authors publish.
        public var checkpointFiles: [String]
        /// Where published weights are, or why there are none.
        public var weights: String
        public var license: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case repo, commit, checkpointFiles, weights, license }
        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self, in: "upstream")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            repo = try c.decodeIfPresent(String.self, forKey: .repo)
            commit = try c.decodeIfPresent(String.self, forKey: .commit)
            checkpointFiles = try c.decode([String].self, forKey: .checkpointFiles)
            weights = try c.decode(String.self, forKey: .weights)
            license = try c.decodeIfPresent(String.self, forKey: .license)
        }
    }

    /// What the network expects: RGB in [0, 1], padded to a multiple, and how.
    public struct InputContract: Decodable, Sendable, Equatable {
        public enum PadMode: String, Decodable, Sendable { case reflect, replicate, zero, none }
        public enum ColorSpace: String, Decodable, Sendable { case rgb = "RGB", gray }
        public enum PadSides: String, Decodable, Sendable { case rightBottom = "right-bottom", all }

        public var colorSpace: ColorSpace
        public var channels: Int
        public var range: [Double]
        public var padMultiple: Int
        public var padMode: PadMode
        /// Which sides get the padding (right and bottom for upstream SymUNet).
        public var padSides: PadSides?
        /// Smallest side the network accepts, if it has one (reflect padding needs pad < side).
        public var minSide: Int?
        /// Whether the output is clamped to `range` by the network (SymUNet's is not).
        public var clampOutput: Bool
        /// Whether tiled inference equals whole-image inference.
        public var tiling: String
        public var notes: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case colorSpace, channels, range, padMultiple, padMode, padSides, minSide, clampOutput, tiling, notes
        }
        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self, in: "input")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            colorSpace = try c.decode(ColorSpace.self, forKey: .colorSpace)
            channels = try c.decode(Int.self, forKey: .channels)
            range = try c.decode([Double].self, forKey: .range)
            padMultiple = try c.decode(Int.self, forKey: .padMultiple)
            padMode = try c.decode(PadMode.self, forKey: .padMode)
            padSides = try c.decodeIfPresent(PadSides.self, forKey: .padSides)
            minSide = try c.decodeIfPresent(Int.self, forKey: .minSide)
            clampOutput = try c.decode(Bool.self, forKey: .clampOutput)
            tiling = try c.decode(String.self, forKey: .tiling)
            notes = try c.decodeIfPresent(String.self, forKey: .notes)
            guard range.count == 2, range[0] < range[1] else {
                throw DecodingError.dataCorruptedError(forKey: .range, in: c, debugDescription: "needs [low, high] with low < high")
            }
            guard padMultiple >= 1 else {
                throw DecodingError.dataCorruptedError(forKey: .padMultiple, in: c, debugDescription: "must be at least 1")
            }
        }
    }

    /// The golden test: a fixture folder under Tests/Fixtures and the tolerance it is held to.
    public struct Golden: Decodable, Sendable, Equatable {
        public var fixture: String
        public var maxAbsError: Double
        public var description: String
        enum CodingKeys: String, CodingKey, CaseIterable { case fixture, maxAbsError, description }
        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self, in: "golden")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            fixture = try c.decode(String.self, forKey: .fixture)
            maxAbsError = try c.decode(Double.self, forKey: .maxAbsError)
            description = try c.decode(String.self, forKey: .description)
        }
    }

    public struct AuxInput: Decodable, Sendable, Equatable {
        /// A name pattern (`{module*}.pos_embed`), as keys of the `--aux` .npz.
        public var pattern: String
        public var description: String
        enum CodingKeys: String, CodingKey, CaseIterable { case pattern, description }
        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self, in: "auxInputs entry")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            pattern = try c.decode(String.self, forKey: .pattern)
            description = try c.decode(String.self, forKey: .description)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case schema = "$schema"
        case id, family, title, summary, paper, upstream, tasks, config, input, layouts, parameters, stateDictKeys
        case golden, runnable, reason, auxInputs, notes
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "manifest")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        family = try c.decode(String.self, forKey: .family)
        title = try c.decode(String.self, forKey: .title)
        summary = try c.decode(String.self, forKey: .summary)
        paper = try c.decode(Paper.self, forKey: .paper)
        upstream = try c.decode(Upstream.self, forKey: .upstream)
        tasks = try c.decode([String].self, forKey: .tasks)
        config = try c.decode(JSON.self, forKey: .config)
        input = try c.decode(InputContract.self, forKey: .input)
        layouts = try c.decode([SourceLayout].self, forKey: .layouts)
        parameters = try c.decodeIfPresent(Int.self, forKey: .parameters)
        stateDictKeys = try c.decodeIfPresent(Int.self, forKey: .stateDictKeys)
        golden = try c.decodeIfPresent(Golden.self, forKey: .golden)
        runnable = try c.decode(Bool.self, forKey: .runnable)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        auxInputs = try c.decodeIfPresent([AuxInput].self, forKey: .auxInputs) ?? []
        notes = try c.decodeIfPresent([String].self, forKey: .notes) ?? []

        guard id.range(of: "^[a-z0-9][a-z0-9.-]*$", options: .regularExpression) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "'\(id)' is not a lowercase id (a-z, 0-9, '.', '-')")
        }
        guard case .object = config else {
            throw DecodingError.dataCorruptedError(forKey: .config, in: c, debugDescription: "must be an object")
        }
        if !runnable && (reason ?? "").isEmpty {
            throw DecodingError.dataCorruptedError(forKey: .reason, in: c, debugDescription: "a manifest that is not runnable must say why")
        }
        if layouts.isEmpty && runnable {
            throw DecodingError.dataCorruptedError(forKey: .layouts, in: c, debugDescription: "a runnable model needs at least one source layout")
        }
    }

    /// Types `config` with its family from `families` (a `Zoo` does this for every manifest);
    /// errors read as decoding errors of the `config` or `family` field.
    mutating func typeConfig(with families: FamilyCatalog) throws {
        if let f = families.named(family) {
            do { modelConfig = try f.decode(config) } catch {
                throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.config], debugDescription: "\(error)"))
            }
            architecture = f
        } else if runnable {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.family],
                debugDescription: "family '\(family)' has no Swift config, so the model cannot be runnable"))
        }
    }

    /// "runnable" or "not runnable: <reason>", for `irzoo list --available` and `irzoo show`.
    public var availability: String { runnable ? "runnable" : "not runnable: \(reason ?? "no reason given")" }

    /// The layout named `name`.
    public func layout(named name: String) -> SourceLayout? { layouts.first { $0.name == name } }
}
