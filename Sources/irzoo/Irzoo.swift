import ArgumentParser
import IRFormat
import IRStore

struct Irzoo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "irzoo",
        abstract: "Read, convert, store and verify image-restoration model weights.",
        discussion: """
            Store: $IRZOO_HOME, else ~/.local/share/irzoo. Exit status: 0 ok, 1 damaged or failed, \
            2 usage, 3 unreadable input, 4 inventory mismatch, 5 store refused (unknown model, name taken), \
            6 write failed. See docs/CLI.md.
            """,
        version: IRWLayout.version,
        // One line per command; add new commands here.
        subcommands: [
            Inspect.self,
            Convert.self,
            Import.self,
            List.self,
            Show.self,
            Verify.self,
            Remove.self,
            GC.self,
            Run.self,
            Push.self,
            Pull.self,
            Serve.self,
        ]
    )
}

/// Options shared by the commands that read checkpoints.
struct ReadingOptions: ParsableArguments {
    @Option(name: .long, help: "The sub-tree holding the weights (e.g. params_ema), overriding the default choice.")
    var select: String?

    @Flag(name: .long, help: "Read unknown pickle globals as inert placeholders instead of refusing the file (nothing is ever executed).")
    var permissive = false

    @Option(name: .long, help: "Hub folders: the weights variant to read (fp16 reads *.fp16.safetensors). Default: the full-precision weights.")
    var variant: String?
}

/// The store the commands work on, with crashed commands' leftovers swept first.
enum StoreAccess {
    static func open(sweep: Bool = true) throws -> ModelStore {
        guard let root = ModelStore.defaultRoot(environment: Terminal.environment) else {
            throw CLIError(.usage, "set IRZOO_HOME (or HOME) to say where the store lives")
        }
        let store = ModelStore(root: root)
        store.stepHook = { TestHooks.pause(at: $0) }
        if sweep { try store.recover() }
        return store
    }
}
