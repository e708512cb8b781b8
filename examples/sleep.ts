// Part 3's slow server: answers after ?ms= milliseconds (default 1000), to show concurrency.
export default async function sleep(request: Request): Promise<Response> {
  const ms = Math.min(Number(new URL(request.url).searchParams.get("ms") ?? 1000) || 0, 60_000);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return new Response(`slept ${ms} ms\n`);
}
