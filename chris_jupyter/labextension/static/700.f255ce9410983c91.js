"use strict";(self.rspackChunkchris_jupyter_lab=self.rspackChunkchris_jupyter_lab||[]).push([[700],{646(r,o,e){var a=e(601),i=e.n(a),l=e(314),t=(e.n(l))()(i());t.push([r.id,`/* ChRIS panels: JupyterLab's theme variables only, so light and dark themes both work. */
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
`,""]),e.d(o,{},{A:t})},314(r){r.exports=function(r){var o=[];return o.toString=function(){return this.map(function(o){var e="",a=void 0!==o[5];return o[4]&&(e+="@supports (".concat(o[4],") {")),o[2]&&(e+="@media ".concat(o[2]," {")),a&&(e+="@layer".concat(o[5].length>0?" ".concat(o[5]):""," {")),e+=r(o),a&&(e+="}"),o[2]&&(e+="}"),o[4]&&(e+="}"),e}).join("")},o.i=function(r,e,a,i,l){"string"==typeof r&&(r=[[null,r,void 0]]);var t={};if(a)for(var n=0;n<this.length;n++){var s=this[n][0];null!=s&&(t[s]=!0)}for(var c=0;c<r.length;c++){var p=[].concat(r[c]);a&&t[p[0]]||(void 0!==l&&(void 0===p[5]||(p[1]="@layer".concat(p[5].length>0?" ".concat(p[5]):""," {").concat(p[1],"}")),p[5]=l),e&&(p[2]&&(p[1]="@media ".concat(p[2]," {").concat(p[1],"}")),p[2]=e),i&&(p[4]?(p[1]="@supports (".concat(p[4],") {").concat(p[1],"}"),p[4]=i):p[4]="".concat(i)),o.push(p))}},o}},601(r){r.exports=function(r){return r[1]}},72(r){var o=[];function e(r){for(var e=-1,a=0;a<o.length;a++)if(o[a].identifier===r){e=a;break}return e}function a(r,a){for(var i={},l=[],t=0;t<r.length;t++){var n=r[t],s=a.base?n[0]+a.base:n[0],c=i[s]||0,p="".concat(s," ").concat(c);i[s]=c+1;var d=e(p),h={css:n[1],media:n[2],sourceMap:n[3],supports:n[4],layer:n[5]};if(-1!==d)o[d].references++,o[d].updater(h);else{var b=function(r,o){var e=o.domAPI(o);return e.update(r),function(o){o?(o.css!==r.css||o.media!==r.media||o.sourceMap!==r.sourceMap||o.supports!==r.supports||o.layer!==r.layer)&&e.update(r=o):e.remove()}}(h,a);a.byIndex=t,o.splice(t,0,{identifier:p,updater:b,references:1})}l.push(p)}return l}r.exports=function(r,i){var l=a(r=r||[],i=i||{});return function(r){r=r||[];for(var t=0;t<l.length;t++){var n=e(l[t]);o[n].references--}for(var s=a(r,i),c=0;c<l.length;c++){var p=e(l[c]);0===o[p].references&&(o[p].updater(),o.splice(p,1))}l=s}}},659(r){var o={};r.exports=function(r,e){var a=function(r){if(void 0===o[r]){var e=document.querySelector(r);if(window.HTMLIFrameElement&&e instanceof window.HTMLIFrameElement)try{e=e.contentDocument.head}catch(r){e=null}o[r]=e}return o[r]}(r);if(!a)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");a.appendChild(e)}},540(r){r.exports=function(r){var o=document.createElement("style");return r.setAttributes(o,r.attributes),r.insert(o,r.options),o}},56(r,o,e){r.exports=function(r){var o=e.nc;o&&r.setAttribute("nonce",o)}},206(r){r.exports=function(r){if("u"<typeof document)return{update:function(){},remove:function(){}};var o=r.insertStyleElement(r);return{update:function(e){var a,i,l;a="",e.supports&&(a+="@supports (".concat(e.supports,") {")),e.media&&(a+="@media ".concat(e.media," {")),(i=void 0!==e.layer)&&(a+="@layer".concat(e.layer.length>0?" ".concat(e.layer):""," {")),a+=e.css,i&&(a+="}"),e.media&&(a+="}"),e.supports&&(a+="}"),(l=e.sourceMap)&&"u">typeof btoa&&(a+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(l))))," */")),r.styleTagTransform(a,o,r.options)},remove:function(){var r;null===(r=o).parentNode||r.parentNode.removeChild(r)}}}},494(r){r.exports=function(r,o){if(o.styleSheet)o.styleSheet.cssText=r;else{for(;o.firstChild;)o.removeChild(o.firstChild);o.appendChild(document.createTextNode(r))}}},959(r,o,e){var a=e(72),i=e.n(a),l=e(206),t=e.n(l),n=e(659),s=e.n(n),c=e(56),p=e.n(c),d=e(540),h=e.n(d),b=e(494),u=e.n(b),f=e(646),v={};v.styleTagTransform=u(),v.setAttributes=p(),v.insert=s().bind(null,"head"),v.domAPI=t(),v.insertStyleElement=h(),i()(f.A,v),f.A&&f.A.locals&&f.A.locals}}]);