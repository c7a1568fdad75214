// Conformance area "semantics", database half: indexes and their errors, filters, ordering,
// unique/first/take, pagination, document ids and system tables.
// Cases: tests/conformance/cases/semantics.textproto.
import { query, mutation, action, internalQuery } from "./_generated/server";
import { internal } from "./_generated/api";
import { v } from "convex/values";

async function messageOf(thunk) {
  try {
    await thunk();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : `non-Error: ${String(e)}`;
  }
}

function byTag(ctx, tag) {
  return ctx.db.query("semantics_docs").withIndex("by_tag", (q) => q.eq("tag", tag));
}

// Replaces the documents of `tag` with `docs` (each gets `tag` added), in order.
export const seed = mutation({
  args: { tag: v.string(), docs: v.array(v.any()) },
  handler: async (ctx, { tag, docs }) => {
    for (const d of await byTag(ctx, tag).collect()) {
      await ctx.db.delete(d._id);
    }
    for (const d of docs) {
      await ctx.db.insert("semantics_docs", { ...d, tag });
    }
    return docs.length;
  },
});

// ---------------------------------------------------------------------------------------------
// Indexes.

export const indexProbe = query({
  args: { probe: v.string(), tag: v.string() },
  handler: async (ctx, { probe, tag }) => {
    const ns = (docs) => docs.map((d) => d.n);
    const docs = ctx.db.query("semantics_docs");
    switch (probe) {
      case "missingTable":
        return await messageOf(() =>
          ctx.db
            .query("semantics_nosuch")
            .withIndex("by_tag", (q) => q.eq("tag", tag))
            .collect(),
        );
      case "missingIndex":
        return await messageOf(() => docs.withIndex("by_nope").collect());
      case "missingTableScan":
        return {
          collect: (await ctx.db.query("semantics_nosuch").collect()).length,
          filtered: (
            await ctx.db
              .query("semantics_nosuch")
              .filter((q) => q.eq(q.field("tag"), tag))
              .collect()
          ).length,
          first: await ctx.db.query("semantics_nosuch").first(),
        };
      case "eqInOrder":
        return ns(
          await docs
            .withIndex("by_tag_a_b", (q) => q.eq("tag", tag).eq("a", 1).eq("b", 2))
            .collect(),
        );
      case "eqOutOfOrder":
        return ns(
          await docs
            .withIndex("by_tag_a_b", (q) => q.eq("b", 2).eq("tag", tag).eq("a", 1))
            .collect(),
        );
      case "rangeBeforeEq":
        return ns(
          await docs.withIndex("by_tag_a_b", (q) => q.gt("a", 1).eq("tag", tag)).collect(),
        );
      case "skippedField":
        return await messageOf(() =>
          docs.withIndex("by_tag_a_b", (q) => q.eq("tag", tag).eq("b", 2)).collect(),
        );
      case "otherRangeErrors": {
        const index = () => ctx.db.query("semantics_docs");
        const duplicateEq = await messageOf(() =>
          index().withIndex("by_tag_a_b", (q) => q.eq("tag", tag).eq("tag", tag)).collect(),
        );
        return {
          boundsOnTwoFields: await messageOf(() =>
            index()
              .withIndex("by_tag_a_b", (q) => q.eq("tag", tag).gt("a", 0).lt("b", 5))
              .collect(),
          ),
          fieldNotInIndex: await messageOf(() =>
            index().withIndex("by_tag_a_b", (q) => q.eq("tag", tag).eq("nope", 1)).collect(),
          ),
          duplicateEqOk:
            duplicateEq !== null &&
            duplicateEq.startsWith(
              "Already defined equality bound in index range. Can't add \"tag\" == ",
            ),
        };
      }
      case "creationTimeIndex":
        return ns(
          await docs
            .withIndex("by_creation_time")
            .order("desc")
            .filter((q) => q.eq(q.field("tag"), tag))
            .collect(),
        );
      default:
        return `unknown probe ${probe}`;
    }
  },
});

export const indexMissingUncaught = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("semantics_docs").withIndex("by_nope").collect(),
});

// ---------------------------------------------------------------------------------------------
// Filters.

export const filterProbe = query({
  args: { probe: v.string(), tag: v.string() },
  handler: async (ctx, { probe, tag }) => {
    const tagged = () => byTag(ctx, tag);
    switch (probe) {
      case "missingField":
        return {
          eqUndefined: (
            await tagged()
              .filter((q) => q.eq(q.field("a"), undefined))
              .collect()
          ).map((d) => d.n),
          eqNull: (await tagged().filter((q) => q.eq(q.field("a"), null)).collect()).map(
            (d) => d.n,
          ),
        };
      case "intLessThanAnyFloat":
        return (await tagged().filter((q) => q.lt(q.field("val"), 0)).collect()).map(
          (d) => d.val,
        );
      case "floatEq":
        return (await tagged().filter((q) => q.eq(q.field("val"), 5)).collect()).map(
          (d) => d.val,
        );
      case "andOr":
        return (
          await tagged()
            .filter((q) =>
              q.or(
                q.eq(q.field("n"), 1),
                q.and(q.gte(q.field("n"), 3), q.neq(q.field("a"), "x")),
              ),
            )
            .collect()
        ).map((d) => d.n);
      case "divByZero":
        return await messageOf(() =>
          tagged()
            .filter((q) =>
              q.and(q.eq(q.field("b"), "int"), q.eq(q.div(q.field("val"), 0n), 1n)),
            )
            .collect(),
        );
      default:
        return `unknown probe ${probe}`;
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Order, first, take, unique, query objects.

export const orderProbe = query({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const ns = (docs) => docs.map((d) => d.n);
    return {
      asc: ns(await byTag(ctx, tag).collect()),
      desc: ns(await byTag(ctx, tag).order("desc").collect()),
      first: (await byTag(ctx, tag).first()).n,
      lastFirst: (await byTag(ctx, tag).order("desc").first()).n,
      take2: ns(await byTag(ctx, tag).take(2)),
      take0: ns(await byTag(ctx, tag).take(0)),
      byN: ns(
        await ctx.db
          .query("semantics_docs")
          .withIndex("by_tag_n", (q) => q.eq("tag", tag).gte("n", 2))
          .order("desc")
          .collect(),
      ),
      firstOfNone: await byTag(ctx, `${tag}-none`).first(),
    };
  },
});

export const queryMisuse = query({
  args: {},
  handler: async (ctx) => {
    const table = () => ctx.db.query("semantics_docs");
    return {
      orderTwice: await messageOf(() => table().order("asc").order("desc").collect()),
      takeNegative: await messageOf(() => table().take(-1)),
      takeFraction: await messageOf(() => table().take(1.5)),
      iterateTwice: await messageOf(async () => {
        const q = byTag(ctx, "semantics-no-such-tag");
        for await (const _ of q) {
          // consumes the (empty) query
        }
        for await (const _ of q) {
          // a second iteration of the same query
        }
      }),
      reuseAfterChain: await messageOf(async () => {
        const q = byTag(ctx, "semantics-no-such-tag");
        q.limit(1);
        for await (const _ of q) {
          // never reached
        }
      }),
    };
  },
});

export const returnsQueryObject = query({
  args: {},
  handler: async (ctx) => ctx.db.query("semantics_docs"),
});

export const uniqueProbe = query({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const message = await messageOf(() => byTag(ctx, tag).unique());
    const one = await ctx.db
      .query("semantics_docs")
      .withIndex("by_tag_n", (q) => q.eq("tag", tag).eq("n", 1))
      .unique();
    const none = await ctx.db
      .query("semantics_docs")
      .withIndex("by_tag_n", (q) => q.eq("tag", tag).eq("n", 99))
      .unique();
    return {
      messageOk:
        message !== null &&
        /^unique\(\) query returned more than one result from table semantics_docs:\n \[[0-9a-z]+, [0-9a-z]+, \.\.\.\]$/.test(
          message,
        ),
      one: one === null ? null : one.n,
      none,
    };
  },
});

// ---------------------------------------------------------------------------------------------
// Pagination.

export const pageByTag = internalQuery({
  args: { tag: v.string(), cursor: v.union(v.string(), v.null()), numItems: v.number() },
  handler: async (ctx, { tag, cursor, numItems }) => {
    const page = await byTag(ctx, tag).paginate({ cursor, numItems });
    return {
      ns: page.page.map((d) => d.n),
      isDone: page.isDone,
      continueCursor: page.continueCursor,
      splitCursor: page.splitCursor ?? null,
      pageStatus: page.pageStatus ?? null,
    };
  },
});

// Pages through a tag with page size 2, each page in its own query execution.
export const paginateWalk = action({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const pages = [];
    let cursor = null;
    for (let i = 0; i < 4; i++) {
      const page = await ctx.runQuery(internal.semantics_db.pageByTag, { tag, cursor, numItems: 2 });
      pages.push(page);
      if (page.isDone) {
        break;
      }
      cursor = page.continueCursor;
    }
    return {
      ns: pages.map((p) => p.ns),
      isDone: pages.map((p) => p.isDone),
      cursorTypes: pages.map((p) => typeof p.continueCursor),
      splitCursors: pages.map((p) => p.splitCursor),
      pageStatuses: pages.map((p) => p.pageStatus),
    };
  },
});

export const paginateProbe = query({
  args: { probe: v.string(), tag: v.string() },
  handler: async (ctx, { probe, tag }) => {
    const summary = (p) => ({
      ns: p.page.map((d) => d.n),
      isDone: p.isDone,
      pageStatus: p.pageStatus ?? null,
    });
    switch (probe) {
      case "argumentErrors": {
        // Each paginate call fails before reading, so several fit in one function.
        const page = (opts) => messageOf(() => byTag(ctx, tag).paginate({ cursor: null, ...opts }));
        return {
          zero: await page({ numItems: 0 }),
          negative: await page({ numItems: -1 }),
          tooMany: await page({ numItems: 32001 }),
          maxRowsZero: await page({ numItems: 2, maximumRowsRead: 0 }),
          maxBytesZero: await page({ numItems: 2, maximumBytesRead: 0 }),
        };
      }
      case "maxRows2":
        return summary(
          await byTag(ctx, tag).paginate({ cursor: null, numItems: 10, maximumRowsRead: 2 }),
        );
      case "maxBytes1":
        return summary(
          await byTag(ctx, tag).paginate({ cursor: null, numItems: 10, maximumBytesRead: 1 }),
        );
      case "twice": {
        const first = await byTag(ctx, tag).paginate({ cursor: null, numItems: 1 });
        return {
          first: first.page.map((d) => d.n),
          second: await messageOf(() => byTag(ctx, tag).paginate({ cursor: null, numItems: 1 })),
        };
      }
      default:
        return `unknown probe ${probe}`;
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Document ids (crates/value/src/id_v6.rs) and system tables.

// Crockford base32, lowercase, as Convex ids use it.
const B32 = "0123456789abcdefghjkmnpqrstvwxyz";

function base32Decode(s) {
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const ch of s) {
    acc = (acc << 5) | B32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
      acc &= (1 << bits) - 1;
    }
  }
  return out;
}

function base32Encode(bytes) {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) {
    out += B32[(acc << (5 - bits)) & 31];
  }
  return out;
}

// The table number at the front of an id (a little-endian base-128 varint).
function tableNumberOf(id) {
  let n = 0;
  let scale = 1;
  for (const b of base32Decode(id)) {
    n += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) {
      break;
    }
  }
  return n;
}

// varint(table) ++ 16-byte internal id ++ fletcher16 (mod 256) little-endian, in base32.
function encodeId(table, internalId) {
  const bytes = [];
  let n = table;
  while (n >= 0x80) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  bytes.push(...internalId);
  let c0 = 0;
  let c1 = 0;
  for (const b of bytes) {
    c0 = (c0 + b) & 0xff;
    c1 = (c1 + c0) & 0xff;
  }
  bytes.push(c0, c1);
  return base32Encode(bytes);
}

// A legacy ("v5") id: 22 characters of url-safe base64 (no padding) of a 16-byte internal id;
// this one encodes the bytes 0, 1, ..., 15.
const LEGACY_ID = "AAECAwQFBgcICQoLDA0ODw";
const LEGACY_BYTES = Array.from({ length: 16 }, (_, i) => i);

export const idProbe = mutation({
  args: { probe: v.string() },
  handler: async (ctx, { probe }) => {
    const docId = await ctx.db.insert("semantics_docs", { tag: "ids-doc" });
    const itemId = await ctx.db.insert("semantics_items", { tag: "ids-item" });
    switch (probe) {
      case "normalizeValid":
        return ctx.db.normalizeId("semantics_docs", docId) === docId;
      case "normalizeNotFound":
        return {
          otherTable: ctx.db.normalizeId("semantics_docs", itemId),
          garbage: ["", "not an id!", "abc", docId + "x", docId.slice(0, -1)].map((s) =>
            ctx.db.normalizeId("semantics_docs", s),
          ),
          legacyMissingTable: ctx.db.normalizeId("semantics_nosuch", LEGACY_ID),
          privateSystemTable: ctx.db.system.normalizeId("_index", LEGACY_ID),
        };
      case "normalizeLegacy": {
        const forDocs = ctx.db.normalizeId("semantics_docs", LEGACY_ID);
        const forItems = ctx.db.normalizeId("semantics_items", LEGACY_ID);
        return {
          docs: forDocs === encodeId(tableNumberOf(docId), LEGACY_BYTES),
          items: forItems === encodeId(tableNumberOf(itemId), LEGACY_BYTES),
          stable: ctx.db.normalizeId("semantics_docs", forDocs) === forDocs,
          get: await ctx.db.get(forDocs),
        };
      }
      case "wrongReader":
        return {
          normalizeSystemFromDb: await messageOf(() => ctx.db.normalizeId("_storage", LEGACY_ID)),
          normalizeUserFromSystem: await messageOf(() =>
            ctx.db.system.normalizeId("semantics_docs", docId),
          ),
          querySystemFromDb: await messageOf(() => ctx.db.query("_scheduled_functions").collect()),
          insertSystemTable: await messageOf(() => ctx.db.insert("_semantics", { tag: "x" })),
        };
      case "storageId": {
        const id = ctx.db.system.normalizeId("_storage", LEGACY_ID);
        return {
          type: typeof id,
          systemGet: await ctx.db.system.get(id),
          plainGet: await messageOf(() => ctx.db.get(id)),
        };
      }
      case "getInvalidIds":
        return {
          legacy: await messageOf(() => ctx.db.get(LEGACY_ID)),
          garbage: await messageOf(() => ctx.db.get("abc")),
          nonString: await messageOf(() => ctx.db.get(5)),
        };
      case "getBasics": {
        const otherTable = (await ctx.db.get(itemId)).tag;
        await ctx.db.delete(docId);
        return { otherTable, deleted: await ctx.db.get(docId) };
      }
      case "getWrongTable":
        return await messageOf(() => ctx.db.get("semantics_docs", itemId));
      case "patchWrongTable":
        return await messageOf(() => ctx.db.patch("semantics_docs", itemId, { tag: "x" }));
      case "systemGetUserId":
        return await messageOf(() => ctx.db.system.get(docId));
      case "getScheduledWithoutSystem": {
        const jobId = await ctx.scheduler.runAfter(60000, internal.semantics.publicPing, {});
        const message = await messageOf(() => ctx.db.get(jobId));
        await ctx.scheduler.cancel(jobId);
        return message;
      }
      case "privateSystemTables":
        return {
          index: (await ctx.db.system.query("_index").take(5)).length,
          tables: (await ctx.db.system.query("_tables").take(5)).length,
        };
      default:
        return `unknown probe ${probe}`;
    }
  },
});
