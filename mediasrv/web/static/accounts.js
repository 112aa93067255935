import { page } from "/static/app.js";
