// The course-subscription decision of the DCB examples, written as a user of the generated
// client would: openapi-typescript's types for openapi-fetch, default flags, `tsc --strict`.
// Usage: node decision.js BASE_URL [TOKEN]; prints what happened as one line of JSON.
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Query = components["schemas"]["Query"];
type Data = { capacity?: number; student_id?: string };

const [baseUrl, token] = process.argv.slice(2);
const client = createClient<paths>({
  baseUrl,
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});
const conflicts: number[] = [];

async function define(course: string, capacity: number): Promise<void> {
  const { error } = await client.POST("/v1/events", {
    body: {
      events: [
        { type: "CourseDefined", data: { course_id: course, capacity }, tags: [`course:${course}`] },
      ],
    },
  });
  if (error) throw new Error(`define ${course}: ${error.status} ${error.detail}`);
}

async function subscribe(
  student: string,
  course: string,
  beforeAppend?: () => Promise<void>,
): Promise<string> {
  const query: Query = {
    items: [{ types: ["CourseDefined", "StudentSubscribedToCourse"], tags: [`course:${course}`] }],
  };
  for (let round = 0; round < 5; round++) {
    const read = await client.POST("/v1/events/query", { body: { query } });
    if (read.error) throw new Error(`read: ${read.error.status} ${read.error.detail}`);
    const page = read.data;
    let capacity = 0;
    const subscribed = new Set<string>();
    for (const event of page.events) {
      const data = event.data as Data;
      if (event.type === "CourseDefined") capacity = data.capacity ?? 0;
      else subscribed.add(data.student_id ?? "");
    }
    if (subscribed.has(student)) return "Student already subscribed to this course";
    if (subscribed.size >= capacity) return `Course "${course}" is already fully booked`;
    if (beforeAppend) {
      await beforeAppend();
      beforeAppend = undefined;
    }
    const appended = await client.POST("/v1/events", {
      body: {
        events: [
          {
            type: "StudentSubscribedToCourse",
            data: { student_id: student, course_id: course },
            tags: [`student:${student}`, `course:${course}`],
          },
        ],
        condition: { fail_if_events_match: query, after: page.marker },
      },
    });
    if (appended.data) return "subscribed";
    const problem = appended.error;
    if (problem.status === 409) {
      // Narrowed by its status: only the conflict problem has these members.
      conflicts.push(problem.conflicting_position, problem.head);
      continue;
    }
    throw new Error(`append: ${problem.status} ${problem.type} ${problem.detail}`);
  }
  throw new Error("no decision after five rounds");
}

await define("c1", 1);
const outcomes: string[] = [];
outcomes.push(
  await subscribe("s1", "c1", async () => {
    outcomes.push(await subscribe("s2", "c1"));
  }),
);
outcomes.push(await subscribe("s2", "c1"));
console.log(JSON.stringify({ outcomes, conflicts }));
