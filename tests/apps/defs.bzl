"""convex_bundle: a convex/ folder bundled with esbuild as the official CLI does, into one .modules file.

The options follow the convex CLI (CONVEX_ABI.md §9.1): bundle, ESM, browser platform, esnext,
conditions convex+module, code splitting with shared chunks under _deps/, minified syntax and
identifiers, kept names. Chunk names are content hashes, so instead of declaring them the rule packs
every output module and its source map into `<name>.modules`: for each a line "<path> <byte length>",
then exactly that many bytes (tests/module_bundle.h reads it).
"""

def convex_bundle(name, convex_dir, srcs, entry_points, testonly = True, visibility = None):
    """Bundles `entry_points` of an app with the public convex package (from @npm_deps).

    Args:
      name: the rule; the output is `<name>.modules`.
      convex_dir: the app's convex/ folder, relative to this package.
      srcs: every source file of the app (under convex_dir).
      entry_points: the files functions live in, relative to convex_dir.
      testonly: as usual.
      visibility: as usual.
    """
    app = native.package_name() + "/" + convex_dir
    folder = convex_dir.split("/")[-1]
    native.genrule(
        name = name,
        srcs = srcs + ["@npm_deps//:convex"],
        outs = [name + ".modules"],
        tools = ["@npm_deps//:esbuild"],
        testonly = testonly,
        visibility = visibility,
        cmd = " ".join([
            # The app is copied (symlinks resolved) to project/<folder> and bundled into project/out, as
            # the convex CLI lays it out, so source maps name "../convex/messages.ts" as Convex shows it.
            "root=$$(pwd); work=$$(mktemp -d); app=$$work/project/%s; out=$$work/project/out;" % folder,
            "mkdir -p $$work/project && cp -RL $$root/%s $$app &&" % app,
            # esbuild finds `convex/server` through NODE_PATH: the node_modules holding the package.
            "modules=$$(for f in $(locations @npm_deps//:convex); do case $$f in */node_modules/convex/package.json)",
            "echo $$root/$${f%/convex/package.json};; esac; done);",
            "NODE_PATH=$$modules $(location @npm_deps//:esbuild)",
            " ".join(["$$app/" + e for e in entry_points]),
            "--bundle --format=esm --platform=browser --target=esnext --conditions=convex,module",
            "--splitting '--chunk-names=_deps/[hash]' --minify-syntax --minify-identifiers --keep-names",
            "--sourcemap --sources-content=false",
            "'--define:process.env.NODE_ENV=\"production\"'",
            "--outdir=$$out --outbase=$$app --log-level=warning &&",
            # The same modules as one classic script for the worker's per-version snapshot
            # (worker/version_snapshot.h), as cli/bundle.cc makes it: skipped where esbuild cannot
            # (top-level await). Made beside out/, so that its map names sources as the modules' do.
            "classic=$$work/project/classic; mkdir -p $$classic $$out/_deps &&",
            "(cd $$out && find . -name '*.js' -not -path './_deps/*' | sort | sed 's|^\\./||') > $$classic/list &&",
            "{ i=0; while read f; do echo \"import * as m$$i from '../out/$$f';\"; i=$$((i+1)); done < $$classic/list;",
            "printf 'globalThis.__isobarModules = {'; i=0; while read f; do printf '\"%s\": m%d, ' \"$$f\" $$i; i=$$((i+1));",
            "done < $$classic/list; echo '};'; } > $$classic/entry.js &&",
            "if $(location @npm_deps//:esbuild) $$classic/entry.js --bundle --format=iife --platform=browser",
            "--target=esnext --minify-syntax --minify-identifiers --keep-names --sourcemap --sources-content=false",
            "'--banner:js=\"use strict\";' --outfile=$$classic/isobar-classic.js --log-level=error; then",
            "cp $$classic/isobar-classic.js $$classic/isobar-classic.js.map $$out/_deps/; fi &&",
            "(cd $$out && find . -type f \\( -name '*.js' -o -name '*.js.map' \\) | sort | sed 's|^\\./||' | while read f; do",
            "printf '%s %s\\n' \"$$f\" \"$$(wc -c < \"$$f\")\"; cat \"$$f\"; done) > $@ &&",
            "rm -rf $$work",
        ]),
    )
