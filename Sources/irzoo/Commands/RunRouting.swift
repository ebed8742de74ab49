import IRModels
import IRRegistry
import IRTensor

/// `irzoo run` for a mixture of experts (UniRestorer): `--expert N` and the route report.
enum RunRouting {
    /// Forces pool index `expert` (instruction mode) on a UniRestorer model; refuses other models.
    static func force(_ expert: Int?, on model: Model, name: String) throws {
        guard let expert else { return }
        guard let moe = model as? UniRestorerModel else {
            throw CLIError(.usage, "--expert: \(name) is a \(model.family) model, not a mixture of experts (unirestorer)")
        }
        let n = moe.config.pool.count
        guard expert >= 0 && expert < n else {
            throw CLIError(.usage, "--expert \(expert): \(name) has experts 0...\(n - 1) (the pool; see `irzoo show`)")
        }
        moe.forcedExpert = expert
    }

    /// The routes of the last pass, when the model routes.
    static func routes(_ model: Model) -> (config: UniRestorerConfig, routes: [UniRestorerRoute])? {
        guard let moe = model as? UniRestorerModel else { return nil }
        return (moe.config, moe.lastRoutes)
    }

    static func label(_ config: UniRestorerConfig, leaf: Int) -> String? {
        config.leaves == UniRestorerConfig.releasedLeafLabels.count ? UniRestorerConfig.releasedLeafLabels[leaf] : nil
    }

    /// One line per image: "image 0: leaf 5 (heavy compression), level 2 -> expert 13 (l2_experts.5, restormer)".
    static func lines(_ model: Model) -> [String] {
        guard let (config, routes) = routes(model) else { return [] }
        return routes.enumerated().map { i, r in
            let expert = "expert \(r.poolIndex) (\(r.expert), \(r.family))"
            guard let leaf = r.leaf, let level = r.level else { return "image \(i): forced \(expert)" }
            let name = label(config, leaf: leaf).map { " (\($0))" } ?? ""
            return "image \(i): leaf \(leaf)\(name), level \(level) -> \(expert)"
        }
    }

    static func json(_ model: Model) -> JSON? {
        guard let (config, routes) = routes(model) else { return nil }
        return .array(routes.map { r in
            var f: [(String, JSON)] = [("expert", .int(r.poolIndex)), ("module", .string(r.expert)),
                                       ("expert_family", .string(r.family)), ("forced", .bool(r.forced))]
            if let leaf = r.leaf, let level = r.level {
                f += [("leaf", .int(leaf)), ("level", .int(level))]
                if let l = label(config, leaf: leaf) { f.append(("leaf_label", .string(l))) }
            }
            return .object(f)
        })
    }
}
