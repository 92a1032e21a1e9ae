"use strict";(self.rspackChunkchris_jupyter_lab=self.rspackChunkchris_jupyter_lab||[]).push([[700],{646(r,e,a){var o=a(601),i=a.n(o),l=a(314),t=(a.n(l))()(i());t.push([r.id,`/* ChRIS panels: JupyterLab's theme variables only, so light and dark themes both work. */
.chris-lab-library {
  display: flex;
  flex-direction: column;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1);
  min-width: 240px;
}

.chris-lab-library.chris-lab-dragging {
  outline: 2px dashed var(--jp-brand-color1);
  outline-offset: -4px;
}

.chris-lab-toolbar {
  display: flex;
  align-items: center;
  gap: 2px;
  padding: 4px 6px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
}

.chris-lab-heading {
  flex: 1;
  font-weight: 600;
  text-transform: uppercase;
  font-size: var(--jp-ui-font-size0);
  letter-spacing: 0.05em;
}

.chris-lab-path {
  padding: 2px 8px;
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-btn {
  background: transparent;
  border: none;
  color: var(--jp-ui-font-color1);
  cursor: pointer;
  padding: 1px 5px;
  border-radius: 3px;
  font-size: var(--jp-ui-font-size1);
}

.chris-lab-btn:hover,
.chris-lab-btn:focus-visible {
  background: var(--jp-layout-color3);
}

.chris-lab-error {
  display: flex;
  gap: 6px;
  align-items: flex-start;
  margin: 4px 6px;
  padding: 4px 6px;
  border-radius: 3px;
  background: var(--jp-error-color3);
  color: var(--jp-error-color0);
  border: 1px solid var(--jp-error-color1);
}

.chris-lab-error[hidden] {
  display: none;
}

.chris-lab-error-text {
  flex: 1;
  word-break: break-word;
}

.chris-lab-scroller {
  flex: 1;
  position: relative;
  overflow-y: auto;
  overflow-x: hidden;
  outline: none;
}

.chris-lab-scroller:focus-visible {
  box-shadow: inset 0 0 0 1px var(--jp-brand-color1);
}

.chris-lab-rows {
  position: absolute;
  inset: 0 0 auto 0;
}

.chris-lab-row {
  position: absolute;
  left: 0;
  right: 0;
  height: 26px;
  display: flex;
  align-items: center;
  gap: 4px;
  cursor: pointer;
  white-space: nowrap;
  box-sizing: border-box;
}

.chris-lab-row:hover {
  background: var(--jp-layout-color2);
}

.chris-lab-row.chris-lab-selected {
  background: var(--jp-brand-color3);
}

.chris-lab-toggle {
  width: 12px;
  flex: none;
  color: var(--jp-ui-font-color2);
}

.chris-lab-name {
  flex: 1;
  overflow: hidden;
  text-overflow: ellipsis;
}

.chris-lab-folder > .chris-lab-name {
  font-weight: 500;
}

.chris-lab-meta {
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-actions {
  display: none;
  flex: none;
}

.chris-lab-row:hover > .chris-lab-actions,
.chris-lab-row.chris-lab-selected > .chris-lab-actions,
.chris-lab-row:focus-within > .chris-lab-actions {
  display: inline-flex;
}

.chris-lab-more {
  color: var(--jp-brand-color1);
  font-style: italic;
}

.chris-lab-empty {
  padding: 8px;
  color: var(--jp-ui-font-color2);
}

.chris-lab-uploads {
  border-top: var(--jp-border-width) solid var(--jp-border-color2);
  max-height: 35%;
  overflow-y: auto;
  padding: 2px 6px;
}

.chris-lab-uploads[hidden] {
  display: none;
}

.chris-lab-uploads-head {
  display: flex;
  justify-content: space-between;
  font-weight: 600;
  padding: 2px 0;
}

.chris-lab-upload-item {
  display: flex;
  align-items: center;
  gap: 4px;
  padding: 1px 0;
}

.chris-lab-upload-name {
  flex: 1;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.chris-lab-upload-error .chris-lab-upload-name {
  color: var(--jp-error-color1);
  white-space: normal;
}

.chris-lab-progress {
  width: 70px;
}

.chris-lab-upload-state {
  width: 64px;
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-viewer {
  overflow: auto;
  padding: 8px;
  background: var(--jp-layout-color1);
}

.chris-lab-viewer-status.chris-lab-error {
  display: block;
}

.chris-lab-btn .chris-lab-icon {
  display: inline-flex;
  vertical-align: middle;
}

.chris-lab-btn svg {
  width: 16px;
  height: 16px;
}

/* -- Plugins panel and run form ---------------------------------------------------------------- */
.chris-lab-plugins,
.chris-lab-feeds {
  display: flex;
  flex-direction: column;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1);
  min-width: 240px;
  overflow-y: auto;
}

.chris-lab-search {
  margin: 4px 6px;
  padding: 3px 6px;
  background: var(--jp-input-background);
  color: var(--jp-ui-font-color1);
  border: var(--jp-border-width) solid var(--jp-input-border-color);
  border-radius: 2px;
}

.chris-lab-plugin,
.chris-lab-feed {
  padding: 5px 8px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  cursor: pointer;
}

.chris-lab-plugin:hover,
.chris-lab-plugin:focus-visible,
.chris-lab-feed:hover,
.chris-lab-feed:focus-visible {
  background: var(--jp-layout-color2);
  outline: none;
}

.chris-lab-feed.chris-lab-selected {
  background: var(--jp-brand-color3);
}

.chris-lab-plugin-head,
.chris-lab-form-head,
.chris-lab-details-head {
  display: flex;
  align-items: center;
  gap: 6px;
}

.chris-lab-plugin-name,
.chris-lab-feed-name,
.chris-lab-details-title,
.chris-lab-feed-title {
  font-weight: 600;
}

.chris-lab-feed-title-bar {
  display: flex;
  align-items: center;
  justify-content: space-between;
  gap: 8px;
}

.chris-lab-plugin-version,
.chris-lab-feed-meta,
.chris-lab-help,
.chris-lab-plugin-description,
.chris-lab-feed-note {
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-badge {
  padding: 0 5px;
  border-radius: 8px;
  font-size: var(--jp-ui-font-size0);
  background: var(--jp-layout-color3);
}

.chris-lab-form {
  padding: 6px 8px;
}

.chris-lab-run-form {
  display: flex;
  flex-direction: column;
  gap: 6px;
  margin-top: 6px;
}

.chris-lab-field {
  display: flex;
  flex-direction: column;
  gap: 2px;
}

.chris-lab-field input[type='text'],
.chris-lab-field input[type='number'],
.chris-lab-field select {
  padding: 3px 5px;
  background: var(--jp-input-background);
  color: var(--jp-ui-font-color1);
  border: var(--jp-border-width) solid var(--jp-input-border-color);
  border-radius: 2px;
}

.chris-lab-path-input {
  display: flex;
  gap: 4px;
}

.chris-lab-path-input input {
  flex: 1;
  min-width: 0;
}

.chris-lab-required,
.chris-lab-field-error {
  color: var(--jp-error-color1);
}

.chris-lab-field-error[hidden] {
  display: none;
}

.chris-lab-subheading {
  margin-top: 6px;
  font-weight: 600;
  font-size: var(--jp-ui-font-size0);
  text-transform: uppercase;
  color: var(--jp-ui-font-color2);
}

.chris-lab-run {
  align-self: flex-start;
}

.chris-lab-empty {
  padding: 6px 8px;
  color: var(--jp-ui-font-color2);
}

/* -- Feeds and jobs ------------------------------------------------------------------------------ */
.chris-lab-feeds {
  flex-direction: row;
  overflow: hidden;
}

.chris-lab-feeds-side {
  width: 260px;
  flex: none;
  display: flex;
  flex-direction: column;
  border-right: var(--jp-border-width) solid var(--jp-border-color2);
  overflow-y: auto;
}

.chris-lab-feeds-main {
  flex: 1;
  display: flex;
  flex-direction: column;
  overflow: auto;
  padding: 6px 10px;
  min-width: 0;
}

.chris-lab-tags {
  display: flex;
  gap: 3px;
  flex-wrap: wrap;
}

.chris-lab-tag {
  padding: 0 4px;
  border-radius: 3px;
  background: var(--jp-layout-color3);
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-graph {
  overflow: auto;
  flex: none;
  max-height: 50%;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
}

.chris-lab-dag .chris-lab-edge {
  fill: none;
  stroke: var(--jp-border-color1);
  stroke-width: 1.5;
}

.chris-lab-node {
  cursor: pointer;
  outline: none;
}

.chris-lab-node rect {
  fill: var(--jp-layout-color2);
  stroke: var(--chris-lab-state, var(--jp-border-color1));
  stroke-width: 2;
}

.chris-lab-node.chris-lab-selected rect,
.chris-lab-node:focus-visible rect {
  stroke-width: 4;
}

.chris-lab-node text {
  fill: var(--jp-ui-font-color1);
  font-size: 11px;
}

.chris-lab-node .chris-lab-node-state {
  fill: var(--chris-lab-state, var(--jp-ui-font-color2));
}

.chris-lab-state-pending {
  --chris-lab-state: var(--jp-ui-font-color2);
}

.chris-lab-state-running {
  --chris-lab-state: var(--jp-brand-color1);
}

.chris-lab-state-success {
  --chris-lab-state: var(--jp-success-color1);
}

.chris-lab-state-error {
  --chris-lab-state: var(--jp-error-color1);
}

.chris-lab-state-cancelled {
  --chris-lab-state: var(--jp-warn-color1);
}

.chris-lab-badge.chris-lab-details-state {
  color: var(--jp-ui-inverse-font-color1);
  background: var(--chris-lab-state);
}

.chris-lab-details {
  padding-top: 6px;
}

.chris-lab-job-error {
  margin: 4px 0;
  color: var(--jp-error-color1);
}

.chris-lab-params th {
  text-align: left;
  padding-right: 10px;
  font-weight: 500;
  color: var(--jp-ui-font-color2);
}

.chris-lab-output {
  display: flex;
  align-items: center;
  gap: 6px;
}

.chris-lab-output-name {
  flex: 1;
  word-break: break-all;
}

.chris-lab-logs {
  max-height: 240px;
  overflow: auto;
  padding: 4px 6px;
  background: var(--jp-layout-color2);
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  white-space: pre-wrap;
}

/* -- PACS ------------------------------------------------------------------------------------- */
.chris-lab-pacs {
  display: flex;
  flex-direction: column;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1);
  min-width: 240px;
  overflow-y: auto;
}

.chris-lab-pacs-form {
  padding: 4px 8px;
}

.chris-lab-study {
  padding: 5px 8px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
}

.chris-lab-series,
.chris-lab-retrieval {
  display: flex;
  align-items: center;
  gap: 6px;
  flex-wrap: wrap;
  padding: 2px 0 2px 8px;
}

.chris-lab-progress {
  width: 80px;
}

/* -- shared with me (Library panel) and the Share dialog ---------------------------------- */
.chris-lab-path {
  display: flex;
  align-items: center;
  gap: 4px;
}

.chris-lab-shared {
  border-top: var(--jp-border-width) solid var(--jp-border-color2);
  max-height: 30%;
  overflow-y: auto;
  padding: 2px 6px;
}

.chris-lab-shared[hidden],
.chris-lab-share-link[hidden],
.chris-lab-share-field[hidden] {
  display: none;
}

.chris-lab-shared-item {
  display: flex;
  justify-content: space-between;
  width: 100%;
  text-align: left;
  gap: 6px;
}

.chris-lab-share-body {
  min-width: 420px;
}

.chris-lab-share-form {
  display: flex;
  flex-wrap: wrap;
  align-items: flex-end;
  gap: 6px;
}

.chris-lab-share-field {
  display: flex;
  flex-direction: column;
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-share-link {
  margin-top: 8px;
  display: flex;
  flex-wrap: wrap;
  gap: 4px;
  align-items: center;
}

.chris-lab-share-url {
  flex: 1;
  min-width: 260px;
  font-family: var(--jp-code-font-family);
}

.chris-lab-share-note {
  width: 100%;
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-share-list {
  list-style: none;
  padding: 0;
  margin: 4px 0;
}

.chris-lab-share-item {
  display: flex;
  justify-content: space-between;
  align-items: center;
  gap: 6px;
}

/* -- a feed's note and comments (Feeds panel) ----------------------------------------------- */
.chris-lab-feed-note-input,
.chris-lab-comment-input {
  width: 100%;
  box-sizing: border-box;
  resize: vertical;
  font-family: var(--jp-ui-font-family);
}

.chris-lab-feed-note-bar {
  display: flex;
  gap: 6px;
  align-items: center;
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-comments {
  list-style: none;
  padding: 0;
  margin: 4px 0;
  max-height: 200px;
  overflow-y: auto;
}

.chris-lab-comment {
  padding: 2px 0;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color3);
}

.chris-lab-comment-meta {
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
}

.chris-lab-comment-text {
  white-space: pre-wrap;
}
`,""]),a.d(e,{},{A:t})},314(r){r.exports=function(r){var e=[];return e.toString=function(){return this.map(function(e){var a="",o=void 0!==e[5];return e[4]&&(a+="@supports (".concat(e[4],") {")),e[2]&&(a+="@media ".concat(e[2]," {")),o&&(a+="@layer".concat(e[5].length>0?" ".concat(e[5]):""," {")),a+=r(e),o&&(a+="}"),e[2]&&(a+="}"),e[4]&&(a+="}"),a}).join("")},e.i=function(r,a,o,i,l){"string"==typeof r&&(r=[[null,r,void 0]]);var t={};if(o)for(var s=0;s<this.length;s++){var n=this[s][0];null!=n&&(t[n]=!0)}for(var c=0;c<r.length;c++){var p=[].concat(r[c]);o&&t[p[0]]||(void 0!==l&&(void 0===p[5]||(p[1]="@layer".concat(p[5].length>0?" ".concat(p[5]):""," {").concat(p[1],"}")),p[5]=l),a&&(p[2]&&(p[1]="@media ".concat(p[2]," {").concat(p[1],"}")),p[2]=a),i&&(p[4]?(p[1]="@supports (".concat(p[4],") {").concat(p[1],"}"),p[4]=i):p[4]="".concat(i)),e.push(p))}},e}},601(r){r.exports=function(r){return r[1]}},72(r){var e=[];function a(r){for(var a=-1,o=0;o<e.length;o++)if(e[o].identifier===r){a=o;break}return a}function o(r,o){for(var i={},l=[],t=0;t<r.length;t++){var s=r[t],n=o.base?s[0]+o.base:s[0],c=i[n]||0,p="".concat(n," ").concat(c);i[n]=c+1;var d=a(p),h={css:s[1],media:s[2],sourceMap:s[3],supports:s[4],layer:s[5]};if(-1!==d)e[d].references++,e[d].updater(h);else{var b=function(r,e){var a=e.domAPI(e);return a.update(r),function(e){e?(e.css!==r.css||e.media!==r.media||e.sourceMap!==r.sourceMap||e.supports!==r.supports||e.layer!==r.layer)&&a.update(r=e):a.remove()}}(h,o);o.byIndex=t,e.splice(t,0,{identifier:p,updater:b,references:1})}l.push(p)}return l}r.exports=function(r,i){var l=o(r=r||[],i=i||{});return function(r){r=r||[];for(var t=0;t<l.length;t++){var s=a(l[t]);e[s].references--}for(var n=o(r,i),c=0;c<l.length;c++){var p=a(l[c]);0===e[p].references&&(e[p].updater(),e.splice(p,1))}l=n}}},659(r){var e={};r.exports=function(r,a){var o=function(r){if(void 0===e[r]){var a=document.querySelector(r);if(window.HTMLIFrameElement&&a instanceof window.HTMLIFrameElement)try{a=a.contentDocument.head}catch(r){a=null}e[r]=a}return e[r]}(r);if(!o)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");o.appendChild(a)}},540(r){r.exports=function(r){var e=document.createElement("style");return r.setAttributes(e,r.attributes),r.insert(e,r.options),e}},56(r,e,a){r.exports=function(r){var e=a.nc;e&&r.setAttribute("nonce",e)}},206(r){r.exports=function(r){if("u"<typeof document)return{update:function(){},remove:function(){}};var e=r.insertStyleElement(r);return{update:function(a){var o,i,l;o="",a.supports&&(o+="@supports (".concat(a.supports,") {")),a.media&&(o+="@media ".concat(a.media," {")),(i=void 0!==a.layer)&&(o+="@layer".concat(a.layer.length>0?" ".concat(a.layer):""," {")),o+=a.css,i&&(o+="}"),a.media&&(o+="}"),a.supports&&(o+="}"),(l=a.sourceMap)&&"u">typeof btoa&&(o+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(l))))," */")),r.styleTagTransform(o,e,r.options)},remove:function(){var r;null===(r=e).parentNode||r.parentNode.removeChild(r)}}}},494(r){r.exports=function(r,e){if(e.styleSheet)e.styleSheet.cssText=r;else{for(;e.firstChild;)e.removeChild(e.firstChild);e.appendChild(document.createTextNode(r))}}},959(r,e,a){var o=a(72),i=a.n(o),l=a(206),t=a.n(l),s=a(659),n=a.n(s),c=a(56),p=a.n(c),d=a(540),h=a.n(d),b=a(494),f=a.n(b),u=a(646),x={};x.styleTagTransform=f(),x.setAttributes=p(),x.insert=n().bind(null,"head"),x.domAPI=t(),x.insertStyleElement=h(),i()(u.A,x),u.A&&u.A.locals&&u.A.locals}}]);