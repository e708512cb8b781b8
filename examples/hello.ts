// Part 1 of "Let's Build A Web Server": the server that answers every request with Hello, World!
export default {
  fetch(_request: Request): Response {
    return new Response("Hello, World!");
  },
};
