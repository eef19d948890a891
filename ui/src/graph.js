// The topology of the Execution page: dagre lays out the flow's tasks (nodes) and their order (edges);
// the page draws the SVG. The page sees only `window.ConveyorGraph.layout`.
import dagre from "@dagrejs/dagre";

// nodes: [{id, width, height}], edges: [{from, to}] → {width, height, nodes: {id: {x, y}}, edges: [{from, to, points}]}
function layout(nodes, edges, { direction = "LR" } = {}) {
  const graph = new dagre.graphlib.Graph({ multigraph: false });
  graph.setGraph({ rankdir: direction, nodesep: 24, ranksep: 48, marginx: 12, marginy: 12 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) graph.setNode(node.id, { width: node.width || 160, height: node.height || 40 });
  for (const edge of edges) graph.setEdge(edge.from, edge.to);
  dagre.layout(graph);
  const placed = {};
  for (const id of graph.nodes()) {
    const { x, y, width, height } = graph.node(id);
    placed[id] = { x, y, width, height };
  }
  const routed = graph.edges().map((e) => ({ from: e.v, to: e.w, points: graph.edge(e).points }));
  const { width, height } = graph.graph();
  return { width, height, nodes: placed, edges: routed };
}

window.ConveyorGraph = { layout };
