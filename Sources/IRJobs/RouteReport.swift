import IRModels
import IRRegistry
import IRTensor

/// The route a mixture of experts (UniRestorer) took on its last pass, for any front end.
public enum RouteReport {
    static func routes(_ model: Model) -> (config: UniRestorerConfig, routes: [UniRestorerRoute])? {
        guard let moe = model as? UniRestorerModel else { return nil }
        return (moe.config, moe.lastRoutes)
    }

    static func label(_ config: UniRestorerConfig, leaf: Int) -> String? {
        config.leaves == UniRestorerConfig.releasedLeafLabels.count ? UniRestorerConfig.releasedLeafLabels[leaf] : nil
    }

    /// One line per image: "image 0: leaf 5 (heavy compression), level 2 -> expert 13 (l2_experts.5, restormer)".
    public static func lines(_ model: Model) -> [String] {
        guard let (config, routes) = routes(model) else { return [] }
        return routes.enumerated().map { i, r in
            let expert = "expert \(r.poolIndex) (\(r.expert), \(r.family))"
            guard let leaf = r.leaf, let level = r.level else { return "image \(i): forced \(expert)" }
            let name = label(config, leaf: leaf).map { " (\($0))" } ?? ""
            return "image \(i): leaf \(leaf)\(name), level \(level) -> \(expert)"
        }
    }

    /// `[{"expert", "module", "expert_family", "forced", "leaf"?, "level"?, "leaf_label"?}]`, nil for unrouted models.
    public static func json(_ model: Model) -> JSON? {
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
