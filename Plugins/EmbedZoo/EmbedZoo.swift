import Foundation
import PackagePlugin

/// Compiles every `Zoo/*.json` into IRRegistry at build time (`EmbeddedZoo.files`), so the
/// manifests a binary carries are always the ones in Zoo/: there is no generated copy to commit
/// or to let go stale. Planned on every build, so an added or removed manifest is seen too.
@main
struct EmbedZoo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let zoo = context.package.directoryURL.appending(path: "Zoo")
        let manifests = try FileManager.default.contentsOfDirectory(at: zoo, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedZoo.swift")
        return [.buildCommand(displayName: "Embedding \(manifests.count) Zoo manifests in \(target.name)",
                              executable: try context.tool(named: "ZooEmbedder").url,
                              arguments: [output.path] + manifests.map(\.path),
                              inputFiles: manifests, outputFiles: [output])]
    }
}
