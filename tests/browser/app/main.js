// A small React app as Convex users write one, against the unmodified convex package: one page posts
// (?page=post), the other shows the posts live (?page=wall). The client URL is the build's
// VITE_CONVEX_URL, as in Convex's templates.
import { ConvexProvider, ConvexReactClient, useMutation, usePaginatedQuery, useQuery } from "convex/react";
import { anyApi as api } from "convex/server";
import { createElement as h, StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";

const convex = new ConvexReactClient(import.meta.env.VITE_CONVEX_URL);

function Poster() {
  const post = useMutation(api.posts.post);
  const postMany = useMutation(api.posts.postMany);
  const [body, setBody] = useState("");
  const [sent, setSent] = useState(0);
  return h("div", null,
    h("h1", null, "Post"),
    h("input", { id: "body", value: body, onChange: (e) => setBody(e.target.value) }),
    h("button", {
      id: "send",
      onClick: async () => {
        await post({ author: "poster", body });
        setBody("");
        setSent((n) => n + 1);
      },
    }, "Send"),
    h("button", { id: "send-many", onClick: async () => { await postMany({ author: "bulk", count: 25 }); setSent((n) => n + 25); } },
      "Send 25"),
    h("p", { id: "sent" }, `sent ${sent}`));
}

function Wall() {
  const count = useQuery(api.posts.count);
  const { results, status, loadMore } = usePaginatedQuery(api.posts.page, {}, { initialNumItems: 10 });
  return h("div", null,
    h("h1", null, "Wall"),
    h("p", { className: "count", id: "count" }, count === undefined ? "loading" : `${count} posts`),
    h("ul", { id: "posts" }, results.map((p) => h("li", { key: p._id }, `${p.author}: ${p.body}`))),
    h("p", { id: "status" }, status),
    h("button", { id: "more", disabled: status !== "CanLoadMore", onClick: () => loadMore(10) }, "Load more"));
}

const page = new URLSearchParams(window.location.search).get("page");
createRoot(document.getElementById("root")).render(
  h(StrictMode, null, h(ConvexProvider, { client: convex }, page === "post" ? h(Poster) : h(Wall))));
