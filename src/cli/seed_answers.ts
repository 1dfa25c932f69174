/** The seed problem's answers, built in views/report_data.ts; re-exported for the bare command's import. */
export { seedAnswers } from '../views/report_data.js';
