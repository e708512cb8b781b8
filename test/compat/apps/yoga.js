/**
 * GraphQL Yoga as its docs write it: `createYoga({ schema: createSchema({ typeDefs, resolvers }) })`, exported as
 * is (a Yoga server is a fetch app and a Node listener at once). A query, a mutation, an error from a resolver,
 * variables, GET and POST on /graphql, and GraphiQL for a browser's GET (Accept: text/html). Its usual server is
 * node:http with yoga as the listener (Yoga's "Integration with Node.js" page).
 *
 * JavaScript, not TypeScript: graphql-yoga's type declarations pull in the DOM library (through
 * @whatwg-node/fetch's `/// <reference lib="dom" />`), which would change the global types of every other file
 * `npm run typecheck` checks. As a .js file it stays out of that program; oryx and Node run it all the same.
 */
import { createSchema, createYoga } from "graphql-yoga";

// Each worker has its own list; the tests only read what a request itself wrote.
/** @type {Array<{ id: string, text: string, done: boolean }>} */
const todos = [{ id: "1", text: "write the suite", done: true }];

export default createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Todo {
        id: ID!
        text: String!
        done: Boolean!
      }
      type Query {
        hello(name: String): String!
        todos: [Todo!]!
        fails: String
      }
      type Mutation {
        addTodo(text: String!): Todo!
      }
    `,
    resolvers: {
      Query: {
        hello: (_, args) => `Hello, ${args.name ?? "world"}!`,
        todos: () => todos.slice(0, 1),
        fails: () => {
          throw new Error("a resolver failed");
        },
      },
      Mutation: {
        addTodo: (_, args) => {
          const todo = { id: String(todos.length + 1), text: args.text, done: false };
          todos.push(todo);
          return { ...todo, id: "new" };
        },
      },
    },
  }),
});
