import IRJobs
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

    /// One line per image: "image 0: leaf 5 (heavy compression), level 2 -> expert 13 (l2_experts.5, restormer)".
    static func lines(_ model: Model) -> [String] { RouteReport.lines(model) }

    static func json(_ model: Model) -> JSON? { RouteReport.json(model) }
}
