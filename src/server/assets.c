/* assets.c: the dashboard's stylesheet, embedded (no CDN: works offline). */
#include "server/server.h"

const char srv_style_css[] =
    "body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\n"
    "header{background:#1d2330;color:#fff;padding:.6em 1em;display:flex;gap:1.2em;align-items:center}\n"
    "header a{color:#cfe0ff;text-decoration:none}header b{margin-right:1em}\n"
    "main{padding:1em 1.5em}h1{font-size:1.3em}\n"
    "table{border-collapse:collapse;background:#fff;margin:.5em 0 1.5em;min-width:40%}\n"
    "th,td{border:1px solid #d8dce3;padding:.3em .6em;text-align:left;vertical-align:top;font-size:.92em}\n"
    "th{background:#eef1f5}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "code,pre{font-family:ui-monospace,monospace;font-size:.88em;white-space:pre-wrap;word-break:break-all}\n"
    "form.inline{display:inline}button{cursor:pointer;margin:0 .2em}\n"
    "nav.states a{margin-right:.8em}nav.states a.on{font-weight:bold;text-decoration:none;color:#000}\n"
    ".st{padding:.1em .45em;border-radius:.3em;background:#e3e7ee;font-size:.85em}\n"
    ".SUCCESS,.ready{background:#d4f5dc}.ERROR,.dead_letter,.stale{background:#fbd7d7}\n"
    ".RUNNING,.in_flight{background:#dbe8ff}.CANCELLED,.CANCELLING,.cancelled,.stopped{background:#ece2fb}\n"
    ".timeline li{margin:.25em 0}.msg{padding:.5em 1em;background:#fff3cd;border:1px solid #f0d98c}\n";
