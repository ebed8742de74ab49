import IRRegistry

/// Reads a UniRestorer config off tensor shapes (after the manifest's layout): the controller's
/// CLIP tower, the head depth, the gate sizes, and each `lN_experts.I` module's family.
///
/// Experts are identified by their own keys: every registered family is asked to read a config
/// off the module's table, and the one whose inventory the table matches exactly wins (LoRA
/// experts have been merged into plain Restormers by the layout's `loraMerge` by then). Never a
/// fixed list: the released code builds 23 level-2 modules for 22 leaves, which shifts the
/// family behind pool indices 14..29.
public enum UniRestorerExpertDetection {
    static let controller = "daclip_model.visual_control."

    static let signature = KeySignature([KeyCondition("lf_gate.0.clean.weight", rank: 2), KeyCondition("layer_gate.0.clean.weight", rank: 2),
                                         "mu.0.weight", KeyCondition(controller + "vision_model.embeddings.patch_embedding.weight"),
                                         KeyCondition(controller + "visual_projection.weight")])

    public static func detect(_ t: ShapeTable) -> Detection<UniRestorerConfig> {
        if let missing = signature.mismatch(t) { return .absent(missing: missing) }
        let lf = t["lf_gate.0.clean.weight"]!, layer = t["layer_gate.0.clean.weight"]!
        guard case .found(var router, var notes) = CLIPVisionConfig.detectTower(
            t, prefix: controller + "vision_model.", projection: controller + "visual_projection.weight") else {
            return .absent(missing: [controller + "vision_model.* (a CLIP ViT tower)"])
        }
        router.hiddenAct = "gelu"
        notes.append("the controller's activation is not recorded in the weights: exact GELU, as DA-CLIP's ViT-B/32 uses")
        let headLayers = (bnIndex(t, "mu.") + 1) / 2
        let (leaves, levels) = (lf[0], layer[0])
        guard leaves == UniRestorerConfig.releasedPathTable.count, levels == 3 else {
            return .absent(missing: ["the released 22 x 3 path table (found \(leaves) leaves x \(levels) levels; "
                                     + "the table is not stored in the weights: pass --config with path_table and pool)"])
        }
        var experts = [UniRestorerConfig.Expert]()
        var unknown = [String]()
        for name in expertModules(t) {
            if let e = detectExpert(t, name) { experts.append(e) } else { unknown.append(name) }
        }
        notes.append("experts read off their keys: " + Dictionary(grouping: experts, by: \.family)
            .map { "\($0.key) \(compact($0.value.map(\.name)))" }.sorted().joined(separator: "; "))
        if !unknown.isEmpty { notes.append("no registered family matches the keys of \(compact(unknown))") }
        let config = UniRestorerConfig(router: router, headLayers: headLayers, leaves: leaves, levels: levels,
                                       pathTable: UniRestorerConfig.releasedPathTable, pool: UniRestorerConfig.releasedPool,
                                       experts: experts)
        let routed = Set(config.pool)
        for e in experts where !routed.contains(e.name) {
            notes.append("\(e.name) is not in the expert pool: kept, never routed to (the released off-by-one)")
        }
        return .found(config, notes: notes)
    }

    /// "l1_experts.0-3, l2_experts.17-18": module names with consecutive indices as ranges.
    static func compact(_ names: [String]) -> String {
        var runs = [(prefix: String, first: Int, last: Int)]()
        for name in names {
            guard let dot = name.lastIndex(of: "."), let i = Int(name[name.index(after: dot)...]) else { continue }
            let prefix = String(name[..<dot])
            if let r = runs.last, r.prefix == prefix, r.last + 1 == i { runs[runs.count - 1].last = i } else { runs.append((prefix, i, i)) }
        }
        return runs.map { "\($0.prefix).\($0.first)" + ($0.last > $0.first ? "-\($0.last)" : "") }.joined(separator: ", ")
    }

    /// The BatchNorm1d index of a head: the index under `prefix` that has `running_mean`.
    static func bnIndex(_ t: ShapeTable, _ prefix: String) -> Int {
        t.shapes.keys.compactMap { name -> Int? in
            guard name.hasPrefix(prefix), name.hasSuffix(".running_mean") else { return nil }
            return Int(name.dropFirst(prefix.count).dropLast(".running_mean".count))
        }.max() ?? 9
    }

    /// `lN_experts.I` prefixes present, by level then index.
    public static func expertModules(_ t: ShapeTable) -> [String] {
        var found = Set<[Int]>()
        for name in t.shapes.keys where name.hasPrefix("l") {
            let parts = name.split(separator: ".", maxSplits: 2)
            guard parts.count == 3, parts[0].hasSuffix("_experts"), let level = Int(parts[0].dropFirst().dropLast("_experts".count)),
                  let index = Int(parts[1]) else { continue }
            found.insert([level, index])
        }
        return found.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }.map { "l\($0[0])_experts.\($0[1])" }
    }

    /// The family whose inventory the module's keys match exactly.
    public static func detectExpert(_ t: ShapeTable, _ module: String) -> UniRestorerConfig.Expert? {
        let prefix = module + "."
        var own = [String: [Int]]()
        for (name, shape) in t.shapes where name.hasPrefix(prefix) { own[String(name.dropFirst(prefix.count))] = shape }
        let table = ShapeTable(shapes: own)
        for family in Families.catalog.all where family.id != UniRestorerConfig.family && family.id != UniRestorerLoRAConfig.family
            && family.id != CLIPVisionConfig.family {
            guard let (config, _) = try? family.detect(table) else { continue }
            let expert = UniRestorerConfig.Expert(name: module, family: family.id, config: config.json)
            let specs = config.inventory
            guard specs.count == own.count,
                  specs.allSatisfy({ own[$0.name] == $0.shape }) else { continue }
            return expert
        }
        return nil
    }
}
