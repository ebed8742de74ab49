import ArgumentParser
import IRCheckpoint
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

/// `--json`, declared once for every command that can print its result as one JSON object.
struct JSONOutput: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON object on stdout.")
    var json = false
}

/// `--replace`, for the commands that install weights under a name (import, pull).
struct ReplaceOption: ParsableArguments {
    @Flag(name: .long, help: "Let NAME move to these weights if it is installed with others.")
    var replace = false
}

extension DTypeConversion {
    /// The value of `--dtype` (convert, import), or the usage error both give.
    static func option(_ text: String) throws -> DTypeConversion {
        guard let conversion = DTypeConversion(rawValue: text) else {
            throw CLIError(.usage, "--dtype must be one of keep, f32, f16, bf16 (got '\(text)')")
        }
        return conversion
    }
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
